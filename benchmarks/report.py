"""Print the quality results as tables, and write them into benchmarks/README.md."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from corpus.model import CODE_EDITS, NEGATIVE_TYPES, PROSE_EDITS

BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"
EDIT_ORDER = list(dict.fromkeys(CODE_EDITS + PROSE_EDITS))


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def versions(repo: Path) -> dict[str, str]:
    out = {}
    for dist in ("distillguard", "datasketch", "copydetect", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    git = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    out["distillguard_commit"] = git.stdout.strip()
    return out


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _frac(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _headline_rows(scores: list[dict]) -> list[list[str]]:
    rows = []
    for s in scores:
        if "skipped" in s:
            rows.append([s["system"], "skipped: " + s["skipped"][:80]] + [""] * 6)
            continue
        rows.append(
            [
                s["system"],
                _pct(s["precision"]),
                _pct(s["recall"]),
                _pct(s["f1"]),
                _pct(s["false_positive_rate"]),
                _pct(s["throughput_mb_s"]),
                f"{s['index_seconds']:.1f}",
                f"{s['documents']}",
            ]
        )
    return rows


HEADLINE = ["system", "precision", "recall", "F1", "FP rate", "scan MB/s", "index s", "docs"]


def _breakdown(scores: list[dict], field: str, keys: list[str]) -> tuple[list[str], list[list]]:
    """One row per key: its size in the full corpus, then each system's rate. A system run on a
    sample (fewer documents) shows the rate with its own n in parentheses."""
    live = [s for s in scores if "skipped" not in s]
    full = max((s["documents"] for s in live), default=0)
    header = ["", "n"] + [s["system"] for s in live]
    rows = []
    for key in keys:
        cells = [s[field].get(key) for s in live]
        sizes = [c["n"] for c, s in zip(cells, live, strict=True) if c and s["documents"] == full]
        if not any(cells):
            continue
        row = [key, str(sizes[0]) if sizes else "–"]
        for cell, system in zip(cells, live, strict=True):
            if not cell:
                row.append("–")
            elif system["documents"] < full:
                row.append(f"{_pct(cell['rate'])} ({cell['n']})")
            else:
                row.append(_pct(cell["rate"]))
        rows.append(row)
    return header, rows


def _kind_keys(scores: list[dict], field: str) -> list[str]:
    keys: set[str] = set()
    for s in scores:
        keys |= set(s.get(field, {}))
    order = {e: i for i, e in enumerate(EDIT_ORDER + list(NEGATIVE_TYPES))}
    return sorted(keys, key=lambda k: (k.split(":")[0], order.get(k.split(":")[1], 99)))


def tables(scores: list[dict]) -> list[tuple[str, list[str], list[list[str]]]]:
    recall = _breakdown(scores, "recall_by_edit", EDIT_ORDER)
    recall_kind = _breakdown(
        scores, "recall_by_kind_edit", _kind_keys(scores, "recall_by_kind_edit")
    )
    fpr = _breakdown(scores, "fpr_by_negative", list(NEGATIVE_TYPES))
    fpr_kind = _breakdown(
        scores, "fpr_by_kind_negative", _kind_keys(scores, "fpr_by_kind_negative")
    )
    return [
        ("Detection quality", HEADLINE, _headline_rows(scores)),
        ("Recall per edit type", *recall),
        ("Recall per kind and edit type", *recall_kind),
        ("False-positive rate per hard-negative type", *fpr),
        ("False-positive rate per kind and hard-negative type", *fpr_kind),
    ]


def print_tables(scores: list[dict]) -> None:
    console = Console()
    for title, header, rows in tables(scores):
        table = Table(title=title)
        for col in header:
            table.add_column(col)
        for row in rows:
            table.add_row(*row)
        console.print(table)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    m, v, c = results["machine"], results["versions"], results["corpus"]
    parts = [
        f"Command: `{results['command']}`  ",
        f"Machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}; {m['date']}  ",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + "  ",
        f"Corpus: seed {c['seed']}, generator v{c['generator_version']}: {c['documents']} "
        f"documents ({c['positives']} positive, {c['negatives']} negative), "
        f"{c['bytes'] / 1e6:.1f} MB; ledger of {c['ledger_outputs']} outputs "
        f"({c['inserted_outputs']} inserted somewhere, the rest distractors).",
        "",
    ]
    for title, header, rows in tables(results["scores"]):
        parts += [f"**{title}**", "", _md_table(header, rows), ""]
    notes = [
        f"- {s['system']}: {'; '.join(s.get('notes', []))} (params: {s.get('params')})"
        for s in results["scores"]
        if "skipped" not in s
    ]
    notes += [
        f"- {s['system']}: skipped — {s['skipped']}" for s in results["scores"] if "skipped" in s
    ]
    parts += ["Setup of each system:", "", *notes, ""]
    spans = [(s["system"], s["spans"]) for s in results["scores"] if s.get("spans")]
    for name, sp in spans:
        parts += [
            f"{name} evidence spans, over its {sp['flagged_positives']} flagged positives: "
            f"{_frac(sp['matched_chars_inside_region'])} of matched characters fall inside the "
            f"inserted region, spans cover {_frac(sp['region_chars_covered'])} of that region, "
            f"and the inserted output is among the matches in "
            f"{_frac(sp['inserted_output_among_matches'])} of them.",
            "",
        ]
    return "\n".join(parts)


def markers(seed: int) -> tuple[str, str]:
    """The README block of a seed: seed 1 is the headline run, others are held-out checks."""
    if seed == 1:
        return BEGIN, END
    return f"<!-- quality-seed{seed}:begin -->", f"<!-- quality-seed{seed}:end -->"


def update_readme(readme: Path, block: str, seed: int) -> bool:
    """Replace the seed's block between its markers; False when the README has no such block."""
    begin, end = markers(seed)
    text = readme.read_text() if readme.exists() else ""
    if begin not in text:
        return False
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1] if end in rest else ""
    readme.write_text(head + begin + "\n" + block + "\n" + end + tail)
    return True
