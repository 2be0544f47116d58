"""A real corpus for the sharded and Ray scans: stdlib source files, as files, JSONL (plain
and gzipped) and Parquet records, with recorded outputs planted in some of them, and inputs
that cannot be read (a binary file, a malformed JSONL line)."""

from __future__ import annotations

import gzip
import json
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.samples import JS_OUTPUT, PROSE_OUTPUT, PY_OUTPUT, PY_RENAMED, embed

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PACKAGES = ("json", "email", "http", "urllib", "importlib", "logging", "xml/dom", "concurrent")


def stdlib_texts(limit: int) -> list[tuple[str, str]]:
    """(name, text) of up to ``limit`` stdlib modules, in a fixed order."""
    found = []
    for package in PACKAGES:
        for path in sorted((STDLIB / package).glob("*.py")):
            text = path.read_text("utf-8")
            if len(text) > 2000:
                found.append((f"{package.replace('/', '_')}_{path.stem}", text))
    return found[:limit]


def record_outputs(run: Callable[..., Any], real: str) -> None:
    """Outputs in the ledger: the samples, and one real stdlib module as an answer."""
    for text, vendor in ((PY_OUTPUT, "anthropic"), (JS_OUTPUT, "openai"), (real, "anthropic")):
        result = run("record", "-", "--vendor", vendor, "--model", "m-1", input=text)
        assert result.exit_code == 0, result.output
    result = run("record", "-", "--vendor", "openai", "--model", "m-2", input=PROSE_OUTPUT)
    assert result.exit_code == 0, result.output


def make_corpus(root: Path, run: Callable[..., Any], files: int = 24, repeat: int = 1) -> Path:
    """Write the corpus under ``root/corpus`` (and record its outputs); returns that path.
    ``repeat``: each source file holds its module that many times (longer shards)."""
    texts = stdlib_texts(files + 24)
    real = texts[-1][1]
    record_outputs(run, real)
    corpus = root / "corpus"
    (corpus / "src").mkdir(parents=True)
    (corpus / "data").mkdir()
    for i, (name, module) in enumerate(texts[:files]):
        text = module * repeat
        if i == 3:
            text = embed(PY_OUTPUT, text)[0]
        if i == 7:
            text = embed(PY_RENAMED, text)[0]
        (corpus / "src" / f"{name}.py").write_text(text, "utf-8")
    rows = [{"id": f"r{i}", "text": t} for i, (_, t) in enumerate(texts[files:])]
    rows[2]["text"] = embed(JS_OUTPUT, rows[2]["text"])[0]
    rows[5]["text"] = real[len(real) // 3 :]  # two thirds of the real answer
    lines = [json.dumps(r) + "\n" for r in rows]
    (corpus / "data" / "a.jsonl").write_text("".join(lines[:8]) + "{not json\n", "utf-8")
    prose = json.dumps({"id": "p", "text": "Notes.\n\n" + PROSE_OUTPUT}) + "\n"
    (corpus / "data" / "b.jsonl.gz").write_bytes(
        gzip.compress("".join([*lines[8:16], prose]).encode())
    )
    table = pa.table({"id": [r["id"] for r in rows[16:]], "text": [r["text"] for r in rows[16:]]})
    pq.write_table(table, corpus / "data" / "c.parquet")
    (corpus / "blob.bin").write_bytes(bytes(range(256)) * 8)
    return corpus


def without_timing(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between runs of the same scan (time, worker count)."""
    return {k: v for k, v in report.items() if k not in ("seconds", "workers")}


def outputs_of(out: Path) -> dict[str, bytes]:
    """The clean and quarantine files of a scan output, by relative path."""
    found = {}
    for side in ("clean", "quarantine"):
        for path in sorted((out / side).rglob("*")):
            if path.is_file():
                found[path.relative_to(out).as_posix()] = path.read_bytes()
    return found
