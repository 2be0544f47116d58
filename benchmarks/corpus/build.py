"""Build the detection-quality corpus: ledger outputs, positive and hard-negative documents."""

from __future__ import annotations

import json
import random
import shutil
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import assemble, edits, extract, sources, textedits, truth
from .extract import FileUnits
from .model import (
    CODE_EDITS,
    CODE_KINDS,
    KINDS,
    PROSE_EDITS,
    Document,
    LedgerOutput,
    Unit,
)

GENERATOR_VERSION = 4

OUTPUT_TARGETS = {"py": 3500, "js": 2500, "prose": 2500}
TRIVIAL_TARGETS = {"py": 200, "js": 100}
POSITIVES_PER_EDIT = {"py": 150, "js": 100, "prose": 120}
NEGATIVE_TARGETS = {
    "clean_host": {"py": 300, "js": 250, "prose": 250},
    "sibling": {"py": 300, "js": 250, "prose": 200},
    "license_header": {"py": 150, "js": 150},
    "trivial": {"py": 250, "js": 150},
}
HOST_SIZE = {"py": (1500, 40_000), "js": (1500, 40_000), "prose": (1000, 60_000)}
HOSTS_SCREENED = 1500
MAX_FILES = {"py": 5000, "js": 6000}
PER_FILE = 3
LICENSE_SHARE = 0.12
PRELUDE_SHARE = 0.15
MIN_PARTIAL_LINES, MIN_PARTIAL_WORDS = 12, 50
VENDORS = (
    ("anthropic", "claude-sonnet-4-5"),
    ("openai", "gpt-5-codex"),
    ("google", "gemini-2.5-pro"),
)
EXTENSIONS = {
    ".py": ".py",
    ".js": ".js",
    ".cjs": ".js",
    ".mjs": ".js",
    ".md": ".md",
    ".rst": ".rst",
    ".markdown": ".md",
}


def log(msg: str) -> None:
    print(f"[corpus] {msg}", file=sys.stderr, flush=True)


@dataclass
class Host:
    package: str
    path: Path
    text: str


@dataclass
class Built:
    """The corpus in memory before it is written."""

    outputs: list[LedgerOutput] = field(default_factory=list)
    docs: list[tuple[Document, str]] = field(default_factory=list)
    dropped: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    shortfall: dict[str, int] = field(default_factory=dict)


# --- collecting units -----------------------------------------------------------------------


def collect_units(packages: list[sources.Package], rng: random.Random) -> list[FileUnits]:
    found: list[FileUnits] = []
    for lang in CODE_KINDS:
        files = [(p.name, f) for p in packages if p.lang == lang for f in p.code]
        rng.shuffle(files)
        reader = extract.python_file if lang == "py" else extract.js_file
        for name, path in files[: MAX_FILES[lang]]:
            fu = reader(name, path, str(path))
            if fu is not None:
                found.append(fu)
    for pkg in packages:
        for path in pkg.prose:
            fu = extract.prose_file(pkg.name, path, str(path))
            if fu is not None:
                found.append(fu)
    return found


def _overlaps(unit: Unit, chosen: list[Unit]) -> bool:
    return any(unit.start <= c.end and c.start <= unit.end for c in chosen)


def _norm(text: str) -> str:
    return " ".join(text.split())


def choose_units(
    files: list[FileUnits], rng: random.Random
) -> tuple[list[tuple[Unit, FileUnits]], dict[str, list[Unit]]]:
    """Up to PER_FILE non-overlapping units per file as outputs; the rest become siblings.

    A file gives either code or prose outputs, so that a code sibling never holds a docstring
    paragraph that is itself an output.
    """
    need = dict(OUTPUT_TARGETS)
    chosen: list[tuple[Unit, FileUnits]] = []
    siblings: dict[str, list[Unit]] = {}
    seen: set[str] = set()
    order = list(files)
    rng.shuffle(order)
    for fu in order:
        code = [u for u in fu.units if u.kind != "prose"]
        prose = [u for u in fu.units if u.kind == "prose"]
        pool = code if code and (not prose or rng.random() < 0.6) else prose
        if not pool or need[pool[0].kind] <= 0:
            continue
        pool = list(pool)
        rng.shuffle(pool)
        picked: list[Unit] = []
        for unit in pool:
            key = _norm(unit.text)
            if len(picked) < PER_FILE and key not in seen and not _overlaps(unit, picked):
                picked.append(unit)
                seen.add(key)
        need[pool[0].kind] -= len(picked)
        chosen += [(u, fu) for u in picked]
        siblings[fu.path] = [u for u in pool if not _overlaps(u, picked)]
    return chosen, siblings


def _header_pool(files: list[FileUnits]) -> dict[str, list[str]]:
    pool: dict[str, list[str]] = {"py": [], "js": []}
    for fu in files:
        if fu.license_header and fu.units and fu.units[0].kind in pool:
            pool[fu.units[0].kind].append(fu.license_header)
    return pool


def make_outputs(
    chosen: list[tuple[Unit, FileUnits]], files: list[FileUnits], rng: random.Random
) -> list[LedgerOutput]:
    headers = _header_pool(files)
    outputs = []
    for unit, fu in chosen:
        prelude = ""
        if unit.kind in CODE_KINDS and fu.imports and rng.random() < PRELUDE_SHARE:
            prelude = "\n".join(fu.imports[: rng.randint(1, 3)]) + "\n"
        body = prelude + "\n" + unit.text if prelude else unit.text
        header = ""
        if unit.kind in CODE_KINDS and rng.random() < LICENSE_SHARE:
            header = fu.license_header or (
                rng.choice(headers[unit.kind]) if headers[unit.kind] else ""
            )
        outputs.append(_output(len(outputs), unit, body, header, rng))
        outputs[-1].prelude = prelude
    trivial = [u for fu in files for u in fu.trivial]
    rng.shuffle(trivial)
    seen: set[str] = set()
    for kind, target in TRIVIAL_TARGETS.items():
        picked = [u for u in trivial if u.kind == kind]
        for unit in picked:
            if target > 0 and _norm(unit.text) not in seen:
                seen.add(_norm(unit.text))
                out = _output(len(outputs), unit, unit.text, "", rng)
                out.role = "trivial"
                outputs.append(out)
                target -= 1
    return outputs


def _output(idx: int, unit: Unit, body: str, header: str, rng: random.Random) -> LedgerOutput:
    vendor, model = rng.choice(VENDORS)
    text = header + "\n" + body if header else body
    return LedgerOutput(
        idx=idx,
        kind=unit.kind,
        text=text,
        vendor=vendor,
        model=model,
        source_id=f"bench-{idx:05d}",
        package=unit.package,
        path=unit.path,
        name=unit.name,
        license_header=header,
        body=body,
    )


# --- hosts and donors -----------------------------------------------------------------------


def screen_hosts(
    packages: list[sources.Package], index: truth.OutputIndex, rng: random.Random
) -> dict[str, list[Host]]:
    """Host files per kind that share no long verbatim run with any output."""
    hosts: dict[str, list[Host]] = {}
    for kind in KINDS:
        files = sources.host_files(packages, kind, *HOST_SIZE[kind])
        rng.shuffle(files)
        clean, rejected = [], 0
        for name, path in files[:HOSTS_SCREENED]:
            text = extract.read_text(path)
            if text is None:
                continue
            if index.violation(text):
                rejected += 1
                continue
            clean.append(Host(name, path, text))
        log(f"hosts {kind}: {len(clean)} clean, {rejected} rejected by the truth check")
        hosts[kind] = clean
    return hosts


def make_donors(hosts: dict[str, list[Host]], rng: random.Random) -> edits.Donors:
    donors = edits.Donors()
    for kind in CODE_KINDS:
        marker = "#" if kind == "py" else "//"
        comments, lines = [], []
        for host in hosts[kind][:300]:
            for line in host.text.splitlines():
                s = line.strip()
                if s.startswith(marker) and 20 <= len(s) <= 90 and not s.startswith("#!"):
                    comments.append(s.lstrip("#/ "))
                elif len(s) >= 20 and not s.startswith(("#", "//", "*", "/*")):
                    lines.append(s)
        donors.comments[kind] = comments
        donors.lines[kind] = lines
    for host in hosts["prose"]:
        for para in extract.prose_paragraphs(host.text):
            donors.sentences += [s for s in textedits.sentences(para) if len(s.split()) >= 6]
    return donors


# --- documents ------------------------------------------------------------------------------


def _eligible(out: LedgerOutput, etype: str) -> bool:
    if etype not in ("partial", "combined"):
        return True
    if out.kind == "prose":
        return len(out.body.split()) >= MIN_PARTIAL_WORDS
    return len([ln for ln in out.body.splitlines() if ln.strip()]) >= MIN_PARTIAL_LINES


def _edit(out: LedgerOutput, etype: str, rng: random.Random, donors: edits.Donors):
    if out.kind == "prose":
        return edits.edit_prose(etype, out.body, rng, donors)
    return edits.edit_code(out.kind, etype, out.body, rng, donors)


def make_positives(
    built: Built, hosts: dict[str, list[Host]], donors: edits.Donors, rng: random.Random
) -> None:
    for kind in KINDS:
        available = [o for o in built.outputs if o.kind == kind and o.role == "distractor"]
        rng.shuffle(available)
        for etype in CODE_EDITS if kind in CODE_KINDS else PROSE_EDITS:
            made = 0
            for _ in range(POSITIVES_PER_EDIT[kind] * 4):
                eligible = [o for o in available if _eligible(o, etype)]
                if made == POSITIVES_PER_EDIT[kind] or not eligible:
                    break
                out = rng.choice(eligible)
                result = _edit(out, etype, rng, donors)
                if result is None:
                    built.dropped[f"positive:{etype}"][f"{kind}:inapplicable"] += 1
                    continue
                if not truth.positive_ok(out.body, result[0], kind):
                    built.dropped[f"positive:{etype}"][f"{kind}:truth"] += 1
                    continue
                edited, note = result
                keep_header = out.license_header and not edits.drops_header(etype, note)
                snippet = out.license_header + "\n" + edited if keep_header else edited
                host = rng.choice(hosts[kind])
                text, region = assemble.insert(host.text, snippet, kind, rng)
                doc = _doc(host, kind, True, etype, text, region, note)
                doc.output_idx = out.idx
                built.docs.append((doc, text))
                out.role = "inserted"
                available.remove(out)
                made += 1
            built.shortfall[f"{kind}:{etype}"] = POSITIVES_PER_EDIT[kind] - made


def _doc(
    host: Host,
    kind: str,
    label: bool,
    category: str,
    text: str,
    region: tuple[int, int] | None,
    note: str = "",
) -> Document:
    return Document(
        doc_id="",
        relpath="",
        kind=kind,
        label=label,
        category=category,
        host=f"{host.package}:{host.path.name}",
        region=region,
        note=note,
        size=len(text.encode("utf-8")),
    )


def _negative_text(
    ntype: str,
    kind: str,
    host: Host,
    built: Built,
    siblings: dict[str, list[Unit]],
    rng: random.Random,
) -> tuple[str, list[str], str] | None:
    """(document text, inserted unit names, note) for one hard negative, or None."""
    if ntype == "clean_host":
        return host.text, [], ""
    if ntype == "sibling":
        outs = [o for o in built.outputs if o.kind == kind and siblings.get(o.path)]
        out = rng.choice(outs)
        sib = rng.choice(siblings[out.path])
        text, _ = assemble.insert(host.text, sib.text, kind, rng)
        return text, [f"{sib.path}:{sib.start}-{sib.end}"], f"sibling of output {out.idx}"
    if ntype == "license_header":
        outs = [o for o in built.outputs if o.kind == kind and o.license_header]
        out = rng.choice(outs)
        text, _ = assemble.insert_at_top(host.text, out.license_header)
        return text, [], f"license header of output {out.idx}"
    pool = _trivial_pool(built, kind)
    text, names = host.text, []
    for snippet in rng.sample(pool, k=min(len(pool), rng.randint(1, 3))):
        text, _ = assemble.insert(text, snippet, kind, rng)
        names.append(snippet.strip().splitlines()[0][:60])
    return text, names, ""


def _trivial_pool(built: Built, kind: str) -> list[str]:
    """Trivial outputs of the ledger, and the import lines that outputs start with."""
    pool = [o.text for o in built.outputs if o.kind == kind and o.role == "trivial"]
    prelude = {ln for o in built.outputs if o.kind == kind for ln in o.prelude.splitlines()}
    return pool + sorted(prelude)


def make_negatives(
    built: Built,
    hosts: dict[str, list[Host]],
    siblings: dict[str, list[Unit]],
    index: truth.OutputIndex,
    rng: random.Random,
) -> None:
    for ntype, per_kind in NEGATIVE_TARGETS.items():
        for kind, target in per_kind.items():
            made = 0
            unused = list(hosts[kind])
            rng.shuffle(unused)
            for _ in range(target * 4):
                if made == target or not unused:
                    break
                # a clean host is used once; insertions may reuse hosts
                host = unused.pop() if ntype == "clean_host" else rng.choice(hosts[kind])
                made_text = _negative_text(ntype, kind, host, built, siblings, rng)
                if made_text is None:
                    continue
                text, names, note = made_text
                reason = index.violation(text)
                if reason:
                    built.dropped[f"negative:{ntype}"][f"{kind}:{reason}"] += 1
                    continue
                doc = _doc(host, kind, False, ntype, text, None, note)
                doc.inserted_units = names
                built.docs.append((doc, text))
                made += 1
            built.shortfall[f"{kind}:{ntype}"] = target - made


# --- writing --------------------------------------------------------------------------------


def _extension(host: str) -> str:
    suffix = Path(host.split(":", 1)[1]).suffix.lower()
    return EXTENSIONS.get(suffix, ".txt")


def write(built: Built, out_dir: Path, rng: random.Random, meta: dict) -> None:
    corpus = out_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    order = list(built.docs)
    rng.shuffle(order)
    with (out_dir / "truth.jsonl").open("w") as truth_f:
        for i, (doc, text) in enumerate(order):
            doc.doc_id = f"d{i:05d}"
            doc.relpath = f"{i // 500:02d}/{doc.doc_id}{_extension(doc.host)}"
            path = corpus / doc.relpath
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            truth_f.write(json.dumps(doc.to_json()) + "\n")
    with (
        (out_dir / "outputs.jsonl").open("w") as rec,
        (out_dir / "outputs_meta.jsonl").open("w") as meta_f,
    ):
        for out in built.outputs:
            rec.write(json.dumps(out.record()) + "\n")
            meta_f.write(json.dumps(out.__dict__) + "\n")
    (out_dir / "manifest.json").write_text(json.dumps(meta, indent=2) + "\n")


def summary(built: Built) -> dict:
    docs = [d for d, _ in built.docs]
    return {
        "outputs": dict(Counter(f"{o.kind}:{o.role}" for o in built.outputs)),
        "outputs_with_license_header": sum(1 for o in built.outputs if o.license_header),
        "documents": len(docs),
        "positives": sum(d.label for d in docs),
        "negatives": sum(not d.label for d in docs),
        "bytes": sum(d.size for d in docs),
        "by_category": dict(
            Counter(f"{'pos' if d.label else 'neg'}:{d.category}:{d.kind}" for d in docs)
        ),
        "dropped": {k: dict(v) for k, v in built.dropped.items()},
        "shortfall": {k: v for k, v in built.shortfall.items() if v},
    }


def build(seed: int, work: Path) -> Path:
    """Build (or reuse) the corpus for ``seed``; returns its directory."""
    out_dir = work / f"quality-seed{seed}-gen{GENERATOR_VERSION}"
    if (out_dir / "manifest.json").exists():
        return out_dir
    t0 = time.perf_counter()
    rng = random.Random(seed)
    modules = sources.ensure_npm(work / "npm")
    packages = sources.python_packages() + sources.js_packages(modules)
    src, host_pkgs = sources.split_packages(packages, seed)
    log(f"{len(src)} source packages, {len(host_pkgs)} host packages")
    files = collect_units(src, rng)
    chosen, siblings = choose_units(files, rng)
    built = Built(outputs=make_outputs(chosen, files, rng))
    log(f"{len(built.outputs)} outputs from {len(files)} files ({time.perf_counter() - t0:.0f}s)")
    substantial = [o for o in built.outputs if o.role != "trivial"]  # trivial ones never count
    index = truth.OutputIndex(
        [o.body for o in substantial], prose=[o.kind == "prose" for o in substantial]
    )
    hosts = screen_hosts(host_pkgs, index, rng)
    donors = make_donors(hosts, rng)
    make_positives(built, hosts, donors, rng)
    make_negatives(built, hosts, siblings, index, rng)
    meta = {
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "source_packages": sorted(p.name for p in src),
        "host_packages": sorted(p.name for p in host_pkgs),
        "npm_versions": sources.npm_versions(modules),
        "truth_rule": truth.__doc__,
        **summary(built),
    }
    tmp = out_dir.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write(built, tmp, rng, meta)
    tmp.rename(out_dir)
    log(f"corpus written to {out_dir} ({time.perf_counter() - t0:.0f}s)")
    return out_dir
