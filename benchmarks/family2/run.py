"""Write the three shapes to disk, and run distillguard on them through its CLI, as a user would.

The CLI runs as ``python -c "from distillguard.cli import main; main()"`` with this interpreter,
so a caller can put another source tree first on ``PYTHONPATH`` and measure that code instead.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from .docs import Doc

CLI = [
    sys.executable,
    "-c",
    "import sys; from distillguard.cli import main; sys.argv[0]='distillguard'; main()",
]
CHAT, PARQUET, REPO = "chat.jsonl", "code.parquet", "repo"


def write(docs: list[Doc], root: Path, seed: int) -> dict[str, Path]:
    """Write each shape in a seeded order (names do not give labels away); set ``doc.name``."""
    rng = random.Random(f"write-{seed}")
    by_shape: dict[str, list[Doc]] = {"chat": [], "parquet": [], "repo": []}
    for d in docs:
        by_shape[d.shape].append(d)
    for group in by_shape.values():
        rng.shuffle(group)
    root.mkdir(parents=True, exist_ok=True)
    paths = {"chat": root / CHAT, "parquet": root / PARQUET, "repo": root / REPO}
    with paths["chat"].open("w", encoding="utf-8") as fh:
        for i, d in enumerate(by_shape["chat"]):
            fh.write(json.dumps(d.payload, ensure_ascii=False) + "\n")
            d.name = f"{paths['chat']}:{i + 1}"
    rows = by_shape["parquet"]
    for i, d in enumerate(rows):
        d.name = f"row-{i:05d}"
    table = pa.table(
        {
            "id": [d.name for d in rows],
            "code": [d.payload["code"] for d in rows],
            "language": [d.payload["language"] for d in rows],
        }
    )
    pq.write_table(table, paths["parquet"])
    taken: set[str] = set()
    for d in by_shape["repo"]:
        rel = _unique(d.payload["path"], taken)
        target = paths["repo"] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(d.payload["text"], encoding="utf-8")
        d.name = f"{paths['repo']}/{rel}"
    return paths


def _unique(path: str, taken: set[str]) -> str:
    p = PurePosixPath(path)
    candidate, n = path, 1
    while candidate in taken:
        n += 1
        candidate = str(p.with_name(f"{p.stem}_{n}{p.suffix}"))
    taken.add(candidate)
    return candidate


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILLGUARD_")}
    env["DISTILLGUARD_HOME"] = str(home)
    return env


def cli(args: list[str], home: Path, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([*CLI, *args], env=_env(home), cwd=cwd, capture_output=True, text=True)
    return proc, time.perf_counter() - t0


class CliError(RuntimeError):
    pass


def _check(proc: subprocess.CompletedProcess, step: str, ok: tuple[int, ...] = (0,)) -> None:
    if proc.returncode not in ok:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise CliError(f"`distillguard {step}` exited {proc.returncode}:\n{tail}")


def run(paths: dict[str, Path], answers_jsonl: Path, home: Path, out: Path) -> dict:
    """record --jsonl, index build, then one scan per shape; the reports and timings."""
    cwd = home.parent
    result: dict = {"seconds": {}, "reports": {}, "stderr": {}}
    proc, t = cli(["record", "--jsonl", str(answers_jsonl)], home, cwd)
    _check(proc, "record --jsonl")
    result["seconds"]["record"] = round(t, 2)
    result["record_stdout_tail"] = proc.stdout.strip()[-300:]
    proc, t = cli(["index", "build"], home, cwd)
    _check(proc, "index build")
    result["seconds"]["index"] = round(t, 2)
    scans = {
        "chat": [str(paths["chat"])],
        "parquet": [str(paths["parquet"]), "--text-field", "code", "--id-field", "id"],
        "repo": [str(paths["repo"])],
    }
    for shape, args in scans.items():
        dest = out / shape
        proc, t = cli(["scan", *args, "--out", str(dest), "--workers", "1"], home, cwd)
        _check(proc, f"scan ({shape})", ok=(0, 1))
        result["seconds"][f"scan_{shape}"] = round(t, 2)
        result["reports"][shape] = json.loads((dest / "report.json").read_text())
        result["stderr"][shape] = proc.stderr.strip()[-2000:]
    result["output_ids"] = output_ids(home)
    return result


def output_ids(home: Path) -> dict[str, str]:
    """{ledger output id: source_id}, read from the SQLite ledger (record prints a summary)."""
    db = home / "ledger.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT id, source_id FROM outputs").fetchall()
    return {oid: sid for oid, sid in rows}
