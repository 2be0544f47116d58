"""Run a scan: read documents, match them in batches, write clean/quarantine, tally results.

This process reads and writes, in input order; matching (fingerprinting and probing, the
expensive part) runs on a runner (:mod:`distillguard.runner`): inline with one worker, or on
worker processes that each open the memory-mapped index once. The runner keeps a few batches in
flight, so memory stays bounded. (``shards`` runs whole units on the workers instead: Ray.)

What cannot be read is listed (``Tally.skipped``) up to ``LISTED_PER_UNIT`` entries per input;
past that the entries of that input are counted, not kept, and one last entry says how many
more there were: a file of a million bad lines costs a line of the report, not a million.
"""

from __future__ import annotations

import gc
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

from distillguard.errors import InputError
from distillguard.index.store import Index
from distillguard.model import Finding, Match
from distillguard.runner import Runner
from distillguard.scan.fields import by_field
from distillguard.scan.formats import Document, Fields, Sink, Skipped, Unit, format_of
from distillguard.scan.matcher import Matcher, MatchParams

BATCH_BYTES = 4 << 20
LISTED_PER_UNIT = 100
Progress = Callable[[int], None]
Batch = list[tuple[Unit, Document]]


@dataclass(frozen=True)
class ScanJob:
    """Everything a worker needs to scan (picklable, hashable)."""

    index_root: Path
    out_dir: Path
    vendors: frozenset[str]
    fields: Fields = field(default_factory=Fields)
    params: MatchParams = field(default_factory=MatchParams)


@dataclass
class Tally:
    """What the scan found. ``unlisted``: how many more skipped entries there were than
    ``skipped`` lists (an input's surplus is one entry there, summing it up)."""

    documents: int = 0
    flagged: int = 0
    bytes: int = 0
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unlisted: int = 0

    @property
    def skipped_count(self) -> int:
        """Everything skipped, listed or not."""
        return len(self.skipped) + self.unlisted


@lru_cache(maxsize=1)
def _matcher(index_root: Path, vendors: frozenset[str], params: MatchParams) -> Matcher:
    """This process's matcher (a worker keeps its memory-mapped index open between batches)."""
    return Matcher(Index.open(index_root), vendors.__contains__, params)


def match_texts(job: ScanJob, texts: list[str]) -> list[list[Match]]:
    return _matcher(job.index_root, job.vendors, job.params).match(texts)


class _Writers:
    """Open writers of the units whose documents are still coming."""

    def __init__(self, out_dir: Path, tally: Tally, progress: Progress | None) -> None:
        self.out_dir = out_dir
        self.tally = tally
        self.progress = progress
        self.open: dict[Unit, Sink] = {}
        self.seen: set[Unit] = set()

    def write(self, unit: Unit, doc: Document, quarantined: bool) -> None:
        writer = self.open.get(unit)
        if writer is None:
            writer = self.open[unit] = format_of(unit).sink(unit, self.out_dir)
            self.seen.add(unit)
        writer.write(doc, quarantined)

    def close_all_but(self, keep: Unit | None) -> None:
        """Close the writers of units read to the end (all but the one being read)."""
        for unit in [u for u in self.open if u != keep]:
            self._close(unit, self.open.pop(unit))

    def _close(self, unit: Unit, writer: Sink) -> None:
        try:
            writer.close()
        except InputError as exc:
            self.tally.skipped.append(Skipped(unit.path, f"could not be written out: {exc}"))
        if self.progress:
            self.progress(unit.size)

    def finish(self, units: Sequence[Unit]) -> None:
        """Close everything; a record file that gave no document still gets its clean file."""
        self.close_all_but(None)
        for unit in units:
            if unit not in self.seen:
                fmt = format_of(unit)
                if fmt.records:
                    self._close(unit, fmt.sink(unit, self.out_dir))
                elif self.progress:
                    self.progress(unit.size)


def read_units(units: Sequence[Unit], fields: Fields) -> Iterator[tuple[Unit, Document | Skipped]]:
    """Every document (or skipped entry) of the units, in order, tagged by unit."""
    for unit in units:
        for item in format_of(unit).read(unit, fields):
            yield unit, item


class _Listing:
    """Skipped entries into the tally, at most ``LISTED_PER_UNIT`` per unit listed; the rest
    of a unit's are counted and summed up by one entry when the unit ends."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.unit: Unit | None = None
        self.listed = 0
        self.more = 0  # entries of this unit not listed
        self.first_unlisted: Skipped | None = None

    def add(self, unit: Unit, item: Skipped) -> None:
        if unit != self.unit:
            self.end()
            self.unit, self.listed = unit, 0
        if self.listed < LISTED_PER_UNIT:
            self.listed += 1
            self.tally.skipped.append(item)
        else:
            self.more += 1
            self.first_unlisted = self.first_unlisted or item

    def end(self) -> None:
        """Sum up the surplus of the unit read so far, if any."""
        first = self.first_unlisted
        if self.unit is None or first is None:
            return
        reason = (
            f"{self.more:,} more entries skipped in this input, not listed (only the first "
            f"{LISTED_PER_UNIT} are); the first of them: {first.path}: {first.reason}"
        )
        self.tally.skipped.append(Skipped(self.unit.path, reason))
        self.tally.unlisted += self.more - 1
        self.first_unlisted, self.more = None, 0


def _batches(items: Iterator[tuple[Unit, Document | Skipped]], tally: Tally) -> Iterator[Batch]:
    batch: Batch = []
    size = 0
    listing = _Listing(tally)
    for unit, item in items:
        if isinstance(item, Skipped):
            listing.add(unit, item)
            continue
        batch.append((unit, item))
        size += len(item.text)
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    listing.end()
    if batch:
        yield batch


def _matched(
    job: ScanJob, batches: Iterator[Batch], runner: Runner
) -> Iterator[tuple[Batch, list[list[Match]]]]:
    """Batches with their matches, in order; only the texts go to the runner, the batches
    (their raw records) wait here for their results."""
    waiting: deque[Batch] = deque()

    def texts() -> Iterator[list[str]]:
        for batch in batches:
            waiting.append(batch)
            yield [doc.text for _, doc in batch]

    for found in runner.map(partial(match_texts, job), texts()):
        yield waiting.popleft(), found


def _record(tally: Tally, writers: _Writers, batch: Batch, found: list[list[Match]]) -> None:
    for (unit, doc), matches in zip(batch, found, strict=True):
        writers.write(unit, doc, bool(matches))
        tally.documents += 1
        tally.bytes += doc.size()
        if matches:
            tally.flagged += 1
            if doc.fields is not None:
                matches = by_field(matches, doc.fields, len(doc.text))
            tally.findings.append(Finding(doc.doc, tuple(matches)))
    writers.close_all_but(batch[-1][0])


@contextmanager
def _old_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector's full passes off the objects alive before the scan (modules
    and the like, which outlive it): collections took ~4% of a one-worker scan's process time
    on the scale corpus, about half as much with them frozen."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run(
    job: ScanJob, units: Sequence[Unit], runner: Runner, progress: Progress | None = None
) -> Tally:
    """Scan all units, matching on ``runner`` (entered here); documents, findings and outputs
    keep the input order."""
    tally = Tally()
    writers = _Writers(job.out_dir, tally, progress)
    items = read_units(units, job.fields)
    batches = _batches(items, tally)
    with _old_objects_frozen():
        _scan(job, batches, runner, writers, units)
    return tally


def _scan(
    job: ScanJob,
    batches: Iterator[Batch],
    runner: Runner,
    writers: _Writers,
    units: Sequence[Unit],
) -> None:
    try:
        with runner:
            for batch, found in _matched(job, batches, runner):
                _record(writers.tally, writers, batch, found)
    finally:
        writers.finish(units)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
