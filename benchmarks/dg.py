"""Run distillguard through its CLI, exactly as a user would, with a fresh home directory."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from systems import Corpus, RunResult


def cli_path() -> Path | None:
    exe = Path(sys.executable).parent / "distillguard"
    found = exe if exe.exists() else shutil.which("distillguard")
    return Path(found) if found else None


def available() -> tuple[bool, str]:
    """Whether ``distillguard scan`` exists yet, and why not."""
    exe = cli_path()
    if exe is None:
        return False, "no distillguard executable"
    proc = subprocess.run([str(exe), "scan", "--help"], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        return False, f"`distillguard scan --help` failed: {last[0]}"
    return True, ""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILLGUARD_")}
    env["DISTILLGUARD_HOME"] = str(home)
    return env


def _run(args: list[str], home: Path, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=_env(home), cwd=cwd, capture_output=True, text=True)
    return proc, time.perf_counter() - t0


def _fail(result: RunResult, step: str, proc: subprocess.CompletedProcess) -> RunResult:
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
    result.skipped = f"`distillguard {step}` exited {proc.returncode}: {tail}"
    return result


def run(corpus: Corpus, workers: int = 1, keep: bool = False) -> RunResult:
    """record --jsonl, index build, scan --workers N; read report.json."""
    result = RunResult(name="distillguard", params={"workers": workers})
    ok, why = available()
    if not ok:
        result.skipped = why
        return result
    exe = str(cli_path())
    tmp = Path(tempfile.mkdtemp(prefix="dg-quality-"))
    home, out = tmp / "home", tmp / "scan-out"
    try:
        jsonl = str(corpus.outputs_jsonl.resolve())
        proc, record_s = _run([exe, "record", "--jsonl", jsonl], home, tmp)
        if proc.returncode != 0:
            return _fail(result, "record --jsonl", proc)
        result.extra["record_stdout"] = proc.stdout.strip()[-200:]
        proc, index_s = _run([exe, "index", "build"], home, tmp)
        if proc.returncode != 0:
            return _fail(result, "index build", proc)
        scan_root = str(corpus.docs_dir.resolve())
        args = [exe, "scan", scan_root, "--out", str(out), "--workers", str(workers)]
        proc, scan_s = _run(args, home, tmp)
        if proc.returncode not in (0, 1) or not (out / "report.json").exists():
            return _fail(result, "scan", proc)
        report = json.loads((out / "report.json").read_text())
        ids = _output_ids(home, corpus)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    result.index_seconds, result.scan_seconds = index_s, scan_s
    result.scan_bytes = sum(d.size for d in corpus.docs)
    _read_report(result, report, scan_root)
    if ids is not None:
        result.extra["output_ids"] = ids
    result.extra["record_seconds"] = record_s
    result.notes.append(
        f"scan time is the wall time of the `distillguard scan` process (start-up included; "
        f"report.json says {report.get('seconds')} s); record --jsonl took {record_s:.1f} s, "
        f"default --min-containment"
    )
    return result


def _output_ids(home: Path, corpus: Corpus) -> list[str] | None:
    """Ledger id of each output, by source_id, read from the SQLite ledger when it is there
    (``record --jsonl`` prints a summary, not ids); None when it cannot be read."""
    db = home / "ledger.db"
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = dict(conn.execute("SELECT source_id, id FROM outputs").fetchall())
    except sqlite3.Error:
        return None
    ids = [rows.get(o.source_id) for o in corpus.outputs]
    return ids if all(ids) else None  # type: ignore[return-value]


def _read_report(result: RunResult, report: dict, scan_root: str) -> None:
    for finding in report.get("findings", []):
        doc = finding["doc"]
        rel = os.path.relpath(doc, scan_root) if os.path.isabs(doc) else doc
        rel = Path(rel).as_posix()
        result.flagged.add(rel)
        result.matches[rel] = finding.get("matches", [])
    result.extra["report_seconds"] = report.get("seconds")
    result.extra["report_documents"] = report.get("documents")
    result.extra["report_bytes"] = report.get("bytes")
    result.extra["skipped_files"] = len(report.get("skipped", []))
