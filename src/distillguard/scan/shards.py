"""Run a scan shard by shard: each unit read, matched and written whole by one worker.

This is how a scan runs on a Ray cluster (``scan --engine ray``): the driver only plans and
tallies; every shard (a file, a JSONL shard, a Parquet file, a dataset directory) goes to a
worker of the runner, which reads it, matches its documents on the index it keeps open (see
``engine.match_texts``: built once per worker process), writes its clean and quarantine
outputs in the input's format where the local engine would, and then leaves a completion
marker under ``DIR/.distillguard-shards/``. The tallies are merged in input order, so the
report is the one the local engine writes.

A marker holds the shard's tally (the report's JSON for its findings and skipped entries) and
a key: the shard's path, output name, size and modification time, the scan's settings and the
index it matched against. ``resume``: a shard whose marker holds the same key is not run again
(as datatrove's executors skip completed ranks); any other change runs it again. Markers are
written after the shard's outputs and renamed into place, so a crash leaves none for a shard
half done, and that shard's outputs are rewritten whole.

Ray tasks on long-lived actors, not Ray Data: Ray Data's readers turn JSONL and Parquet into
Arrow blocks, losing what the split must write back unchanged (each JSONL line as it was, the
input's codec, a Parquet file's schema metadata and compression), and the formats it has no
reader for (archives, CSV dialects, Hugging Face dataset directories) would need a second path.
Here a shard runs through the same reader and writer (``scan/formats``) as a local scan; what
Ray Data would add, streaming with backpressure, is the runner's bounded, ordered dispatch.

Workers work in the driver's directory (``Shard.cwd``), so relative PATHs, ``--out`` and the
index mean what they meant where the scan was started: on a cluster, that directory, the
inputs, the output directory and the index must be on a filesystem every node shares at the
same path.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from distillguard.errors import InputError
from distillguard.index.store import MANIFEST
from distillguard.model import Finding, Match, PartMatch
from distillguard.runner import InlineRunner, Runner
from distillguard.scan.engine import Progress, ScanJob, Tally, run
from distillguard.scan.formats import Skipped, Unit, os_reason
from distillguard.scan.outdir import MARKER, REPORT, SHARDS, prepare_out_dir
from distillguard.scan.report import finding_json


@dataclass(frozen=True)
class Shard:
    """One unit to scan, and the key its completion marker must hold to be reused."""

    unit: Unit
    key: str
    cwd: str

    @property
    def marker(self) -> str:
        return self.key[:40] + ".json"


def run_sharded(
    job: ScanJob,
    units: Sequence[Unit],
    runner: Runner,
    progress: Progress | None = None,
    *,
    resume: bool = False,
) -> tuple[Tally, int]:
    """Scan every unit on ``runner`` (entered here), one shard each; with ``resume``, reuse
    the shards already completed. Returns the merged tally and how many shards were reused."""
    advance = progress or (lambda n: None)
    index_id = _index_id(job.index_root)
    cwd = os.getcwd()
    shards = [Shard(u, shard_key(job, u, index_id), cwd) for u in units]
    done = {i: t for i, s in enumerate(shards) if resume and (t := read_marker(job, s))}
    for i in done:
        advance(shards[i].unit.size)
    todo = [i for i in range(len(shards)) if i not in done]
    (job.out_dir / SHARDS).mkdir(exist_ok=True)
    with runner:
        results = runner.map(partial(scan_shard, job), [shards[i] for i in todo])
        for i, tally in zip(todo, results, strict=True):
            done[i] = tally
            advance(shards[i].unit.size)
    return merge([done[i] for i in range(len(shards))]), len(shards) - len(todo)


def scan_shard(job: ScanJob, shard: Shard) -> Tally:
    """Scan one shard here (on a worker) and mark it complete."""
    _work_in(shard.cwd)
    tally = run(job, [shard.unit], InlineRunner())
    write_marker(job, shard, tally)
    return tally


def _work_in(cwd: str) -> None:
    """Move this worker to the driver's directory (a worker process of its own: nothing else
    in it depends on where it works)."""
    if os.getcwd() == cwd:
        return
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise InputError(
            f"the scan's directory {cwd} is not reachable on this worker ({os_reason(exc)}): "
            "inputs, --out and the index must be on a filesystem every node shares"
        ) from exc


def merge(tallies: Sequence[Tally]) -> Tally:
    total = Tally()
    for part in tallies:
        total.documents += part.documents
        total.flagged += part.flagged
        total.bytes += part.bytes
        total.findings += part.findings
        total.skipped += part.skipped
        total.unlisted += part.unlisted
    return total


def prepare_resumable(out_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """With ``resume`` and a previous scan's output there, keep its outputs and markers (the
    old report goes: it is written again at the end); otherwise start afresh."""
    if not (resume and (out_dir / MARKER).is_file()):
        prepare_out_dir(out_dir, overwrite=overwrite)
        return
    try:
        (out_dir / REPORT).unlink(missing_ok=True)
        for side in ("clean", "quarantine", SHARDS):
            (out_dir / side).mkdir(exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot resume into {out_dir}: {os_reason(exc)}") from exc


def shard_key(job: ScanJob, unit: Unit, index_id: str) -> str:
    """What must not change for a completed shard to be reused."""
    try:
        mtime = os.stat(unit.path).st_mtime_ns
    except OSError:
        mtime = -1  # unreadable: its reader says so, and the key still names it
    settings = (sorted(job.vendors), job.fields, job.params, index_id, str(job.index_root))
    parts = (unit.path, unit.kind, unit.out_rel, unit.size, mtime, repr(settings))
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _index_id(root: Path) -> str:
    try:
        return hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest()
    except OSError:
        return "none"


def write_marker(job: ScanJob, shard: Shard, tally: Tally) -> None:
    data = {
        "key": shard.key,
        "path": shard.unit.path,
        "documents": tally.documents,
        "flagged": tally.flagged,
        "bytes": tally.bytes,
        "unlisted": tally.unlisted,
        "findings": [finding_json(f) for f in tally.findings],
        "skipped": [[s.path, s.reason] for s in tally.skipped],
    }
    try:
        encoded = orjson.dumps(data)
    except TypeError:  # a name that is not UTF-8 (rare): no marker, the shard runs again
        return
    path = job.out_dir / SHARDS / shard.marker
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encoded)
    tmp.replace(path)


def read_marker(job: ScanJob, shard: Shard) -> Tally | None:
    """The tally a completed shard left, or None (no marker, another key, unreadable)."""
    try:
        data = orjson.loads((job.out_dir / SHARDS / shard.marker).read_bytes())
        if data["key"] != shard.key:
            return None
        return Tally(
            documents=data["documents"],
            flagged=data["flagged"],
            bytes=data["bytes"],
            findings=[_finding(f) for f in data["findings"]],
            skipped=[Skipped(p, r) for p, r in data["skipped"]],
            unlisted=data["unlisted"],
        )
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # a marker that cannot be used: the shard runs again


def _finding(data: dict[str, Any]) -> Finding:
    return Finding(data["doc"], tuple(_match(m) for m in data["matches"]))


def _match(m: dict[str, Any]) -> Match:
    parts = tuple(
        PartMatch(p["part"], p["kind"], (p["lines"][0], p["lines"][1]), p["containment"])
        for p in m.get("parts", ())
    )
    return Match(
        output_id=m["output_id"],
        vendor=m["vendor"],
        model=m["model"],
        containment=m["containment"],
        spans=tuple((s, e) for s, e in m["spans"]),
        matched=m["fingerprints"],
        field=m.get("field"),
        parts=parts,
    )
