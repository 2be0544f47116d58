"""Run a scan: read units, match documents in batches, write clean/quarantine, collect results.

The local engine splits the units into tasks of a few tens of MB and runs them on ``workers``
processes (inline when there is one). Each task opens the memory-mapped index itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from distillguard.index.store import Index
from distillguard.model import Finding
from distillguard.scan.inputs import Document, Skipped, Unit, read_units
from distillguard.scan.matcher import Matcher, MatchParams
from distillguard.scan.outputs import UnitWriter

TASK_BYTES = 32 << 20
BATCH_BYTES = 4 << 20
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ScanJob:
    """Everything a worker needs to scan its units (picklable)."""

    index_root: Path
    out_dir: Path
    vendors: frozenset[str]
    text_field: str = "text"
    id_field: str | None = None
    params: MatchParams = field(default_factory=MatchParams)


@dataclass
class Tally:
    """What a task (or the whole scan) found."""

    documents: int = 0
    flagged: int = 0
    bytes: int = 0
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.documents += other.documents
        self.flagged += other.flagged
        self.bytes += other.bytes
        self.findings.extend(other.findings)
        self.skipped.extend(other.skipped)


def tasks(units: Sequence[Unit], size: int = TASK_BYTES) -> list[list[Unit]]:
    """Group units, in order, into tasks of about ``size`` bytes."""
    groups: list[list[Unit]] = []
    current: list[Unit] = []
    total = 0
    for unit in units:
        if current and total + unit.size > size:
            groups.append(current)
            current, total = [], 0
        current.append(unit)
        total += unit.size
    if current:
        groups.append(current)
    return groups


class _Writers:
    """Open writers of the units whose documents are still pending."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.open: dict[Unit, UnitWriter] = {}
        self.seen: set[Unit] = set()

    def write(self, unit: Unit, doc: Document, quarantined: bool) -> None:
        writer = self.open.get(unit)
        if writer is None:
            writer = self.open[unit] = UnitWriter(unit, self.out_dir)
            self.seen.add(unit)
        writer.write(doc, quarantined)

    def close_all_but(self, keep: Unit | None) -> None:
        """Close the writers of units read to the end (all but the one being read)."""
        for unit in [u for u in self.open if u != keep]:
            self.open.pop(unit).close()

    def finish(self, units: Sequence[Unit]) -> None:
        """Close everything; a record file that gave no document still gets its clean file."""
        self.close_all_but(None)
        for unit in units:
            if unit.kind != "file" and unit not in self.seen:
                UnitWriter(unit, self.out_dir).close()


def _batches(
    items: Iterator[tuple[Unit, Document | Skipped]], tally: Tally
) -> Iterator[list[tuple[Unit, Document]]]:
    batch: list[tuple[Unit, Document]] = []
    size = 0
    for unit, item in items:
        if isinstance(item, Skipped):
            tally.skipped.append(item)
            continue
        batch.append((unit, item))
        size += len(item.text)
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def run_task(job: ScanJob, units: Sequence[Unit]) -> Tally:
    """Scan some units, in order: the work of one worker process."""
    matcher = Matcher(Index.open(job.index_root), job.vendors.__contains__, job.params)
    tally = Tally()
    writers = _Writers(job.out_dir)
    items = read_units(units, text_field=job.text_field, id_field=job.id_field)
    try:
        for batch in _batches(items, tally):
            _scan_batch(matcher, batch, writers, tally)
            writers.close_all_but(batch[-1][0])
    finally:
        writers.finish(units)
    return tally


def _scan_batch(
    matcher: Matcher, batch: list[tuple[Unit, Document]], writers: _Writers, tally: Tally
) -> None:
    found = matcher.match([doc.text for _, doc in batch])
    for (unit, doc), matches in zip(batch, found, strict=True):
        writers.write(unit, doc, bool(matches))
        tally.documents += 1
        tally.bytes += len(doc.raw) if isinstance(doc.raw, bytes) else len(doc.text.encode())
        if matches:
            tally.flagged += 1
            tally.findings.append(Finding(doc.doc, tuple(matches)))


def run(
    job: ScanJob, units: Sequence[Unit], workers: int, progress: Progress | None = None
) -> Tally:
    """Scan all units on ``workers`` processes; results in input order."""
    share = sum(u.size for u in units) // (max(workers, 1) * 4) + 1
    groups = tasks(units, min(TASK_BYTES, max(1 << 20, share)))
    total = Tally()
    if workers <= 1 or len(groups) <= 1:
        for group in groups:
            total.add(run_task(job, group))
            if progress:
                progress(sum(u.size for u in group))
        return total
    for tally in _parallel(job, groups, workers, progress):
        total.add(tally)
    return total


def _parallel(
    job: ScanJob, groups: list[list[Unit]], workers: int, progress: Progress | None
) -> Iterable[Tally]:
    results: dict[int, Tally] = {}
    with ProcessPoolExecutor(workers) as pool:
        futures: dict[Future[Tally], int] = {
            pool.submit(run_task, job, group): i for i, group in enumerate(groups)
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = futures[future]
                results[i] = future.result()
                if progress:
                    progress(sum(u.size for u in groups[i]))
    return [results[i] for i in range(len(groups))]


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
