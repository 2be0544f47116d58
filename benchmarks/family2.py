"""Detection quality, family 2: assistant answers written for the purpose, found in a chat SFT
file, a Parquet code-analysis dataset and a repository.

    .venv/bin/python benchmarks/family2.py [--seed 1] [--label main] [--answers 800] [--rebuild]
        [--peers [--lsh-threshold 0.5] [--ensemble-threshold 0.5]]

Family 1 (``benchmarks/quality.py``) pastes single functions and prose paragraphs from installed
Python/JS packages into host files. Family 2 is built differently, from other sources (see
``family2/sources.py``), with its own generator, to check whether detection generalizes:

1. About 800 answers (``family2/answers.py``): chat answers (markdown, 1-3 paragraphs, 2-5
   fenced blocks in mixed languages: Python, JavaScript, SQL, shell, Perl, YAML), tool-call
   file writes, code reviews and commit messages. Each has a ``request``; in ~30% of them the
   request quotes the user's own code and the answer quotes part of it back: that is the
   user's text, not the model's. They are recorded with ``distillguard record --jsonl``.
2. About 3,800 documents (``family2/docs.py``) in three shapes: ``chat.jsonl``
   (``{"messages": [...]}``), ``code.parquet`` (``{"id", "code", "language"}``, scanned with
   ``--text-field code --id-field id``) and ``repo/`` (real host files). Positives hold one
   part of one answer (the whole answer, one code block, one function, one paragraph) after
   one edit (verbatim, renamed, reformatted, sql_case, comments, lines_edited; see
   ``family2/edits.py``). Negatives: clean host material, the user's own code a request quoted,
   independently written boilerplate, independent implementations (another real unit with the
   same name, or SQL on the same relations).
3. A fresh ``DISTILLGUARD_HOME``: ``record --jsonl``, ``index build``, one ``scan --workers 1``
   per shape, through ``python -c "from distillguard.cli import main; main()"`` so that
   ``PYTHONPATH`` can select another source tree to measure.
4. Scores per document (``family2/score.py``): a positive is found only when a match names an
   output it holds; results to ``benchmarks/results/family2-<label>.json``, every false
   negative and false positive to ``benchmarks/.work/family2/details-<label>.json``.
5. With ``--peers``, after distillguard (whose run and figures do not change): quality.py's
   peers (datasketch MinHashLSH and MinHashLSHEnsemble, copydetect) on the same documents and
   answers, with quality.py's thresholds, scored by the same rule (``family2/peers.py``);
   printed side by side with distillguard, written under ``peers`` in the results, their
   errors to ``details-<label>-peers.json``.

Truth rule: texts are compared after case folding and whitespace collapsing; a negative that
shares a run of >= 200 characters with any answer's own text (the answer without what its
request quoted) is not a negative and is dropped (counted in ``dropped_negatives``); a positive
holds its answer and every answer it shares such a run with. All labels are fixed by
construction before anything is scanned; nothing here looks at distillguard's behaviour.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from family2 import answers as answers_mod  # noqa: E402
from family2 import docs as docs_mod  # noqa: E402
from family2 import material, run, score  # noqa: E402

GENERATOR = 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--label", default="main", help="names the run in the results file")
    p.add_argument("--answers", type=int, default=800, help="answers to write (default 800)")
    p.add_argument("--work", type=Path, default=HERE / ".work" / "family2")
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--rebuild", action="store_true", help="rebuild the corpus even if present")
    p.add_argument("--build-only", action="store_true", help="build the corpus, scan nothing")
    p.add_argument(
        "--peers",
        action="store_true",
        help="also run quality.py's peers (MinHashLSH, LSHEnsemble, copydetect): a few minutes",
    )
    p.add_argument("--lsh-threshold", type=float, default=0.5, help="MinHashLSH Jaccard")
    p.add_argument(
        "--ensemble-threshold", type=float, default=0.5, help="MinHashLSHEnsemble containment"
    )
    return p.parse_args(argv)


def build(args: argparse.Namespace, corpus: Path) -> dict:
    t0 = time.perf_counter()
    m = material.load(REPO, args.work / "cache", args.seed)
    answers = answers_mod.compose(m, args.seed, args.answers)
    docs, info = docs_mod.build(m, answers, args.seed)
    if corpus.exists():
        shutil.rmtree(corpus)
    paths = run.write(docs, corpus / "data", args.seed)
    with (corpus / "answers.jsonl").open("w", encoding="utf-8") as fh:
        for a in answers:
            fh.write(json.dumps(a.record(), ensure_ascii=False) + "\n")
    manifest = {
        "seed": args.seed,
        "generator": GENERATOR,
        "paths": {k: str(v) for k, v in paths.items()},
        "answers": [
            {
                "idx": a.idx,
                "source_id": a.source_id,
                "kind": a.kind,
                "lang": a.lang,
                "user_code": a.user_unit is not None,
                "chars": len(a.text),
            }
            for a in answers
        ],
        "docs": [d.meta() for d in docs],
        "info": info,
        "material": m.stats,
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    (corpus / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def counts(manifest: dict) -> dict:
    docs = manifest["docs"]
    pos = [d for d in docs if d["label"]]
    neg = [d for d in docs if not d["label"]]
    answers = manifest["answers"]
    return {
        "answers": len(answers),
        "answers_by_kind": dict(Counter(a["kind"] for a in answers)),
        "answers_quoting_user_code": sum(a["user_code"] for a in answers),
        "answers_copied_somewhere": len({d["answer"] for d in pos}),
        "documents": len(docs),
        "positives": len(pos),
        "negatives": len(neg),
        "by_shape": {
            s: {
                "positives": sum(d["shape"] == s for d in pos),
                "negatives": sum(d["shape"] == s for d in neg),
            }
            for s in ("chat", "parquet", "repo")
        },
        "positives_by_part_edit": dict(
            sorted(Counter(f"{d['part']}:{d['edit']}" for d in pos).items())
        ),
        "negatives_by_type": dict(sorted(Counter(d["edit"] for d in neg).items())),
        "positives_holding_several_answers": sum(len(d["holds"]) > 1 for d in pos),
        **manifest["info"],
    }


# The breakdowns printed, as (title, key in the figures, what is counted).
BREAKDOWNS = (
    ("recall by edit", "recall_by_edit", "found"),
    ("recall by edit, parts >= 1/4 of their answer", "recall_by_edit_parts_ge_quarter", "found"),
    ("recall by part", "recall_by_part", "found"),
    ("recall by part and edit", "recall_by_part_edit", "found"),
    ("recall by shape", "recall_by_shape", "found"),
    ("recall by language", "recall_by_language", "found"),
    ("recall by the part's share of its answer", "recall_by_share_of_answer", "found"),
    (
        "recall by part shared with other answers",
        "recall_by_part_shared_with_other_answers",
        "found",
    ),
    ("false positives by negative type", "fp_by_negative", "flagged"),
    ("false positives by shape", "fp_by_shape", "flagged"),
)


def code_under_test() -> str:
    proc = subprocess.run(
        [sys.executable, "-c", "import distillguard; print(distillguard.__file__)"],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip()


def table(title: str, rows: dict, flag: str) -> str:
    lines = [f"{title}", f"  {'':34} {'n':>6} {flag:>8} {'rate':>7}"]
    for k, v in rows.items():
        rate = "-" if v["rate"] is None else f"{v['rate']:.3f}"
        lines.append(f"  {k:34} {v['n']:>6} {v[flag]:>8} {rate:>7}")
    return "\n".join(lines)


def _cell(row: dict | None, flag: str) -> str:
    if row is None:
        return "-"
    rate = "-" if row["rate"] is None else f"{row['rate']:.3f}"
    return f"{rate} ({row[flag]})"


def side_by_side(title: str, key: str, flag: str, systems: dict[str, dict]) -> str:
    """One breakdown, a column per system: rate (count) per row."""
    width = max(16, *(len(n) + 1 for n in systems))
    keys = list(dict.fromkeys(k for f in systems.values() for k in f[key]))
    n = {k: next(f[key][k]["n"] for f in systems.values() if k in f[key]) for k in keys}
    head = "".join(f"{name:>{width}}" for name in systems)
    lines = [title, f"  {'':30} {'n':>5}{head}"]
    for k in keys:
        cells = "".join(f"{_cell(f[key].get(k), flag):>{width}}" for f in systems.values())
        lines.append(f"  {k:30} {n[k]:>5}{cells}")
    return "\n".join(lines)


def print_side_by_side(systems: dict[str, dict], walls: dict[str, float]) -> None:
    width = max(16, *(len(n) + 1 for n in systems))
    print("\nside by side (rate (count); same documents, same truth, same scoring)")
    print(f"  {'':36}" + "".join(f"{name:>{width}}" for name in systems))

    def row(label: str, cell) -> None:
        print(f"  {label:36}" + "".join(f"{cell(name, f):>{width}}" for name, f in systems.items()))

    row("precision", lambda _, f: str(f["precision"]))
    row("recall", lambda _, f: str(f["recall"]))
    row("f1", lambda _, f: str(f["f1"]))
    row("found / positives", lambda _, f: f"{f['found']}/{f['positives']}")
    row("misattributed", lambda _, f: str(f["misattributed"]))
    row(
        "positives flagged at all",
        lambda _, f: f"{(f['found'] + f['misattributed']) / f['positives']:.4f}",
    )
    row("false positives / negatives", lambda _, f: f"{f['false_positives']}/{f['negatives']}")
    row("wall seconds", lambda name, _: f"{walls[name]:.1f}")
    shapes = list(next(iter(systems.values()))["precision_by_shape"])
    for shape in shapes:
        row(f"precision, {shape}", lambda _, f, s=shape: str(f["precision_by_shape"].get(s)))
    for title, key, flag in BREAKDOWNS:
        if key != "recall_by_language":
            print(side_by_side(title, key, flag, systems))


def run_peers(args: argparse.Namespace, manifest: dict, corpus: Path) -> dict:
    from family2 import peers

    t0 = time.perf_counter()
    got = peers.run_all(args, manifest, corpus / "answers.jsonl")
    return {
        "setup": peers.setup(args),
        "read_seconds": got["read_seconds"],
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "systems": got["systems"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = args.work / f"seed{args.seed}-gen{GENERATOR}"
    manifest_path = corpus / "manifest.json"
    if args.rebuild or not manifest_path.exists():
        print(f"building the corpus in {corpus} ...", flush=True)
        manifest = build(args, corpus)
    else:
        manifest = json.loads(manifest_path.read_text())
    c = counts(manifest)
    print(f"{c['answers']} answers, {c['documents']} documents ({c['positives']} positive)")
    if args.build_only:
        return 0
    run_dir = args.work / "runs" / args.label
    if run_dir.exists():
        shutil.rmtree(run_dir)
    home, out = run_dir / "home", run_dir / "scan-out"
    home.mkdir(parents=True)
    paths = {k: Path(v) for k, v in manifest["paths"].items()}
    t0 = time.perf_counter()
    result = run.run(paths, corpus / "answers.jsonl", home, out)
    wall = time.perf_counter() - t0
    scored = score.score(
        manifest["docs"], manifest["answers"], result["reports"], result["output_ids"]
    )
    expected = c["by_shape"]
    scans = {
        shape: {
            "documents_read": rep.get("documents"),
            "documents_expected": expected[shape]["positives"] + expected[shape]["negatives"],
            "flagged": rep.get("flagged"),
            "bytes": rep.get("bytes"),
            "report_seconds": rep.get("seconds"),
            "skipped": rep.get("skipped", []),
            "stderr_tail": result["stderr"][shape][-500:],
        }
        for shape, rep in result["reports"].items()
    }
    sys.path.insert(0, str(HERE))
    import report  # the benchmarks' machine() helper

    results = {
        "label": args.label,
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "machine": report.machine(),
        "versions": report.versions(REPO),
        "code_under_test": code_under_test(),
        "seed": args.seed,
        "generator": GENERATOR,
        "truth_rule": (
            "a negative sharing a run of >= 200 characters (after case folding and whitespace "
            "collapsing) with any answer's own text, i.e. without what its request quoted, is "
            "dropped; a positive holds its answer and every answer it shares such a run with; "
            "a positive is found only when a reported match names an output it holds"
        ),
        "counts": c,
        "scans": scans,
        "seconds": {
            **result["seconds"],
            "run_wall": round(wall, 1),
            "build": manifest["build_seconds"],
        },
        "figures": scored["figures"],
        "material": manifest["material"],
    }
    peer_details = None
    if args.peers:
        print("running the peers ...", flush=True)
        peer_run = run_peers(args, manifest, corpus)
        peer_details = {k: v.pop("details") for k, v in peer_run["systems"].items()}
        results["peers"] = peer_run
    args.results.mkdir(parents=True, exist_ok=True)
    out_path = args.results / f"family2-{args.label}.json"
    out_path.write_text(json.dumps(results, indent=1) + "\n")
    details_path = args.work / f"details-{args.label}.json"
    details_path.write_text(json.dumps(scored["details"], indent=1) + "\n")
    if peer_details is not None:
        peers_details_path = args.work / f"details-{args.label}-peers.json"
        peers_details_path.write_text(json.dumps(peer_details, indent=1) + "\n")
    f = scored["figures"]
    print(
        f"precision {f['precision']}  recall {f['recall']}  f1 {f['f1']}  "
        f"(found {f['found']}/{f['positives']}, false positives {f['false_positives']}/"
        f"{f['negatives']}, misattributed {f['misattributed']})"
    )
    for title, key, flag in BREAKDOWNS:
        if key != "recall_by_part_edit":
            print(table(title, f[key], flag))
    for shape, s in scans.items():
        if s["documents_read"] != s["documents_expected"] or s["skipped"]:
            print(f"warning: {shape}: read {s['documents_read']} of {s['documents_expected']}")
    unnamed = scored["details"]["findings_naming_no_document"]
    if unnamed:
        print(f"warning: findings naming no document: {unnamed[:5]}")
    if args.peers:
        p = results["peers"]
        systems = {"distillguard": f, **{k: v["figures"] for k, v in p["systems"].items()}}
        walls = {"distillguard": results["seconds"]["run_wall"]}
        walls.update({k: v["seconds"]["wall"] for k, v in p["systems"].items()})
        print_side_by_side(systems, walls)
        print(f"peers' thresholds: {p['setup']['thresholds']}")
        for name, v in p["systems"].items():
            print(f"  {name}: {v['seconds']}; {v['params']}; {'; '.join(v['notes'])}")
        print(f"peers' wall time: {p['wall_seconds']}s (reading the texts: {p['read_seconds']}s)")
        print(f"peers' details: {peers_details_path}")
    print(f"results: {out_path}\ndetails: {details_path}")
    print(f"seconds: {results['seconds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
