"""Build the index from the ledger, and keep it current as new outputs arrive.

A full build reads every output, fingerprints it (on a runner: inline, worker processes, Ray;
see :mod:`distillguard.runner`), suppresses boilerplate
(fingerprints shared by more than ``df_max`` outputs, and any background corpus) and writes one
segment. An update fingerprints only outputs recorded since, into a new segment; when the new
part grows past a quarter of the index, the whole index is rebuilt so suppression stays exact.
"""

from __future__ import annotations

import math
import shutil
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from distillguard.errors import ConfigMismatchError, IndexError_, InputError
from distillguard.fingerprint import TEXT, FingerprintConfig, Fingerprinter, settings_for
from distillguard.index.probe import probe
from distillguard.index.sets import (
    KIND_SHARED,
    OutputSets,
    PartRows,
    background_hashes,
    output_sets,
    whole_sets,
)
from distillguard.index.store import (
    TABLE_ARRAYS,
    Index,
    Manifest,
    OutputTable,
    Segment,
    swap_in,
)
from distillguard.model import Output
from distillguard.runner import Runner, local_runner

CHUNK = 2000
# A part is judged on its own when at least this share of its fingerprints is its output's alone.
MIN_OWN_SHARE = 0.5
Progress = Callable[[int], None]


class OutputSource(Protocol):
    """What the builder needs of a ledger."""

    @property
    def url_for_display(self) -> str: ...

    def iter_outputs(self, after_seq: int = 0, *, with_text: bool = True) -> Iterator[Output]: ...

    def max_seq(self) -> int: ...

    def count(self) -> int: ...

    def stored_fp_configs(self) -> set[str]: ...


@dataclass(frozen=True)
class BuildStats:
    outputs: int
    fingerprints: int
    stopped: int
    segments: int
    rebuilt: bool


def df_limit(outputs: int) -> int:
    """Fingerprints shared by more outputs than this are boilerplate."""
    return max(10, math.ceil(outputs * 5e-5))


def _fingerprint_chunk(
    config: FingerprintConfig, texts: list[str], requests: list[str | None]
) -> OutputSets:
    return output_sets(Fingerprinter(config), texts, requests)


def _stored_sets(config: FingerprintConfig, chunk: Sequence[Output]) -> OutputSets | None:
    """Fingerprints kept in the ledger for outputs recorded without text (privacy mode)."""
    owned = []
    for i, out in enumerate(chunk):
        if out.text is not None:
            continue
        if out.fp_config != config.id or out.fingerprints is None:
            raise ConfigMismatchError(
                f"output {out.id} was recorded without text, with fingerprint settings "
                f"{out.fp_config}; the index uses {config.id}: they cannot be mixed"
            )
        owned.append((i, np.unique(np.frombuffer(out.fingerprints, dtype=np.uint64))))
    return whole_sets(owned) if owned else None


def _chunks(outputs: Iterable[Output]) -> Iterator[list[Output]]:
    chunk: list[Output] = []
    for out in outputs:
        chunk.append(out)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Collector:
    """Gathers outputs' metadata, parts and fingerprint pairs as chunks come back from
    workers."""

    def __init__(self, vendors: list[str], models: list[str]) -> None:
        self.ids: list[bytes] = []
        self.vendor: list[int] = []
        self.model: list[int] = []
        self.vendors = vendors
        self.models = models
        self.hashes: list[np.ndarray] = []
        self.owners: list[np.ndarray] = []
        self.parts: list[np.ndarray] = []
        self.part_rows: list[PartRows] = []
        self.part_owner: list[np.ndarray] = []
        self.nparts = 0
        self.alone: np.ndarray | None = None  # which parts are judged on their own
        self.has_prose = False
        self.last: Output | None = None

    def add_meta(self, chunk: Sequence[Output]) -> int:
        base = len(self.ids)
        for out in chunk:
            self.ids.append(out.id.encode("ascii"))
            self.vendor.append(_number(self.vendors, out.vendor))
            self.model.append(_number(self.models, out.model))
        self.last = chunk[-1]
        return base

    def add_sets(self, base: int, sets: OutputSets) -> None:
        self.has_prose = self.has_prose or bool((sets.hash & np.uint64(1)).any())
        self.hashes.append(sets.hash)
        self.owners.append((sets.output + base).astype(np.uint32))
        self.parts.append((sets.part + self.nparts).astype(np.uint32))
        self.part_rows.append(sets.parts)
        self.part_owner.append((sets.parts.output + base).astype(np.uint32))
        self.nparts += len(sets.parts)

    def set_aside_shared(
        self, owners: np.ndarray, parts: np.ndarray, shared: np.ndarray
    ) -> np.ndarray:
        """``parts`` with every shared fingerprint moved to its output's ``shared`` part.

        A part stands on its own only by what is specific to its output: a k-gram that another
        recorded output also holds (a CI step, a Dockerfile line, an idiom many answers write)
        is a pattern, not the mark of one answer. Shared fingerprints still count for the
        whole output; the ``shared`` part is never judged on its own, and neither is a part of
        which less than ``MIN_OWN_SHARE`` is its own (a template, with names and versions
        changed: what is specific in it is the variation).
        """
        moved = parts.copy()
        total = np.bincount(parts, minlength=self.nparts)
        common = np.bincount(parts[shared], minlength=self.nparts)
        self.alone = common <= (1 - MIN_OWN_SHARE) * total
        if not shared.any():
            return moved
        who = np.unique(owners[shared])
        pseudo = self.nparts + np.arange(who.shape[0], dtype=np.int64)
        moved[shared] = pseudo[np.searchsorted(who, owners[shared])].astype(moved.dtype)
        rows = [(int(o), -1, KIND_SHARED, 0, 0) for o in who.tolist()]
        self.part_rows.append(PartRows.of(rows))
        self.part_owner.append(who.astype(np.uint32))
        self.nparts += who.shape[0]
        return moved

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every ``(hash, output, part)``."""
        if not self.hashes:
            return np.empty(0, np.uint64), np.empty(0, np.uint32), np.empty(0, np.uint32)
        return np.concatenate(self.hashes), np.concatenate(self.owners), np.concatenate(self.parts)


def _number(names: list[str], name: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        names.append(name)
        return len(names) - 1


def _fingerprint_work(
    config: FingerprintConfig, work: tuple[list[str], list[str | None]]
) -> OutputSets:
    return _fingerprint_chunk(config, *work)


def _collect(
    outputs: Iterable[Output],
    config: FingerprintConfig,
    collector: _Collector,
    runner: Runner,
    progress: Progress,
) -> None:
    """Fingerprint the outputs chunk by chunk on ``runner``. Each chunk's sets are added when
    its result comes back (kept fingerprints first), so parts are numbered the same whatever
    runs the chunks."""
    waiting: deque[tuple[int, int, OutputSets | None]] = deque()

    def work() -> Iterator[tuple[list[str], list[str | None]]]:
        for chunk in _chunks(outputs):
            base = collector.add_meta(chunk)
            waiting.append((base, len(chunk), _stored_sets(config, chunk)))
            yield [o.text or "" for o in chunk], [o.request for o in chunk]

    with runner:
        for sets in runner.map(partial(_fingerprint_work, config), work()):
            base, size, stored = waiting.popleft()
            if stored is not None:
                collector.add_sets(base, stored)
            collector.add_sets(base, sets)
            progress(size)


def read_background(paths: Sequence[str]) -> list[str]:
    """Texts of a background corpus: every readable UTF-8 file under the paths.

    What is bundled with distillguard always comes first: license notices (Apache, MIT, BSD,
    GPL, MPL) and common infrastructure files as everyone writes them (Dockerfiles on the usual
    base images, CI workflows, compose files, ``pyproject.toml``/``package.json``/``tsconfig``
    skeletons, argparse ``main`` blocks, a React component, an Express server): a shared
    license header or a standard Dockerfile is never evidence of a copy.
    """
    package = resources.files("distillguard.index")
    texts = [package.joinpath("boilerplate.txt").read_text("utf-8")]
    bundled = package.joinpath("background")
    texts += [f.read_text("utf-8") for f in sorted(bundled.iterdir(), key=lambda f: f.name)]
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"background path does not exist: {path}")
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            try:
                texts.append(file.read_bytes().decode("utf-8"))
            except (OSError, UnicodeDecodeError):
                continue
    return texts


class IndexBuilder:
    """Builds and updates the index of one ledger in one directory."""

    def __init__(
        self,
        ledger: OutputSource,
        root: Path,
        config: FingerprintConfig | None = None,
        *,
        workers: int = 1,
        progress: Progress | None = None,
        runner: Runner | None = None,
    ) -> None:
        self.ledger = ledger
        self.root = root
        self.config = config or settings_for(ledger.stored_fp_configs())
        self.workers = max(1, workers)
        self.progress: Progress = progress or (lambda n: None)
        self.runner = runner  # None: inline for one worker, else local processes

    def pending(self) -> int:
        """Outputs in the ledger that the index does not hold yet (all of them if none)."""
        try:
            manifest = Manifest.read(self.root)
        except (IndexError_, TypeError):  # no usable index: everything is pending
            return self.ledger.count()
        if manifest.fp_config != self.config.id:  # other settings: a rebuild, if anything
            return self.ledger.count()
        return max(0, self.ledger.max_seq() - manifest.last_seq)

    def build(self, background: Sequence[str] = ()) -> BuildStats:
        """Build the whole index from scratch."""
        fp = Fingerprinter(self.config)
        stop = background_hashes(fp, read_background(background))
        collector = _Collector([], [])
        _collect(self.ledger.iter_outputs(), self.config, collector, self._runner(), self.progress)
        hashes, owners, parts = collector.pairs()
        n = len(collector.ids)
        df_max = df_limit(n)
        common = _too_common(hashes, df_max)
        stop = np.union1d(stop, common)
        keep = ~np.isin(hashes, stop) if stop.shape[0] else np.ones(hashes.shape[0], bool)
        hashes, owners, parts = hashes[keep], owners[keep], parts[keep]
        parts = collector.set_aside_shared(owners, parts, _shared(hashes))
        manifest = Manifest(
            fp_config=self.config.id,
            config=asdict(self.config),
            ledger=self.ledger.url_for_display,
            outputs=n,
            parts=collector.nparts,
            segments=["seg-0000"],
            vendors=collector.vendors,
            models=collector.models,
            df_max=df_max,
            stopped=int(stop.shape[0]),
            background=[str(b) for b in background],
            has_prose=collector.has_prose,
        )
        self._mark_position(manifest, collector)
        staging = self.root.with_name(self.root.name + ".building")
        _clear(staging)
        staging.mkdir(parents=True)
        Segment.build(hashes, parts).save(staging / "seg-0000")
        _table(collector, hashes, owners, parts, n).save(staging / manifest.table)
        np.save(staging / manifest.stop, stop)
        manifest.write(staging)
        swap_in(staging, self.root)
        return BuildStats(n, int(hashes.shape[0]), int(stop.shape[0]), 1, True)

    def update(
        self, background: Sequence[str] = (), *, replace_other_settings: bool = False
    ) -> BuildStats:
        """Add outputs recorded since the last build, rebuilding when that is cheaper or needed.

        An index made with other fingerprint settings (after an upgrade) is never mixed with
        these: refused, or with ``replace_other_settings`` (readers: ``scan``, ``check``)
        rebuilt from the ledger. Outputs kept only as fingerprints of other settings still
        raise."""
        try:
            manifest = Manifest.read(self.root)
        except (IndexError_, TypeError):  # no usable index: build one
            return self.build(background)
        if manifest.fp_config != self.config.id and replace_other_settings:
            return self.build(background or manifest.background)
        if manifest.fp_config != self.config.id:
            raise ConfigMismatchError(
                f"the index at {self.root} was built with fingerprint settings "
                f"{manifest.fp_config}, not {self.config.id}; rebuild it with "
                "`distillguard index build --rebuild`"
            )
        new = self.ledger.max_seq() - manifest.last_seq
        if new < 0 or not self._same_ledger(manifest):
            return self.build(background or manifest.background)
        if new == 0:
            return BuildStats(manifest.outputs, 0, manifest.stopped, len(manifest.segments), False)
        if new * 4 > manifest.outputs or len(manifest.segments) >= 8:
            return self.build(background or manifest.background)
        return self._append(manifest)

    def _same_ledger(self, manifest: Manifest) -> bool:
        if manifest.last_seq == 0:
            return True
        first = next(
            iter(self.ledger.iter_outputs(after_seq=manifest.last_seq - 1, with_text=False)), None
        )
        return first is not None and first.id == manifest.last_id

    def _append(self, manifest: Manifest) -> BuildStats:
        index = Index.open(self.root)
        collector = _Collector(list(manifest.vendors), list(manifest.models))
        outputs = self.ledger.iter_outputs(after_seq=manifest.last_seq)
        _collect(outputs, self.config, collector, self._runner(), self.progress)
        hashes, owners, parts = collector.pairs()
        keep = ~np.isin(hashes, index.stop)
        hashes, owners, parts = hashes[keep], owners[keep], parts[keep]
        parts = collector.set_aside_shared(owners, parts, _shared(hashes, index))
        n_new = len(collector.ids)
        generation = len(manifest.segments)
        seg_name = f"seg-{generation:04d}"
        Segment.build(hashes, parts + np.uint32(manifest.parts)).save(self.root / seg_name)
        new = _table(collector, hashes, owners, parts, n_new)
        table = _extend(index.outputs, new, manifest.outputs)
        table_name = f"outputs-{generation:04d}"
        table.save(self.root / table_name)
        old_table = manifest.table
        manifest.segments.append(seg_name)
        manifest.outputs += n_new
        manifest.parts += collector.nparts
        manifest.vendors, manifest.models = collector.vendors, collector.models
        manifest.has_prose = manifest.has_prose or collector.has_prose
        manifest.table = table_name
        self._mark_position(manifest, collector)
        manifest.write(self.root)
        _clear(self.root / old_table)
        return BuildStats(
            n_new, int(hashes.shape[0]), manifest.stopped, len(manifest.segments), False
        )

    def _mark_position(self, manifest: Manifest, collector: _Collector) -> None:
        if collector.last is not None:
            manifest.last_seq = collector.last.seq
            manifest.last_id = collector.last.id

    def _runner(self) -> Runner:
        return self.runner or local_runner(self.workers)


def _shared(hashes: np.ndarray, index: Index | None = None) -> np.ndarray:
    """Which ``(hash, output)`` pairs (unique per output) hold a hash other outputs hold too:
    among these pairs, or already in ``index`` (an update: the older outputs' parts keep such
    a hash as their own until the next full build)."""
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    found: np.ndarray = counts[inverse] > 1
    if index is not None and hashes.shape[0]:
        found[probe(index, hashes)[0]] = True
    return found


def _too_common(hashes: np.ndarray, df_max: int) -> np.ndarray:
    if not hashes.shape[0]:
        return np.empty(0, np.uint64)
    uniq, counts = np.unique(hashes, return_counts=True)
    return uniq[counts > df_max]


def _table(
    collector: _Collector, hashes: np.ndarray, owners: np.ndarray, parts: np.ndarray, n: int
) -> OutputTable:
    width = max((len(i) for i in collector.ids), default=1)
    text = (hashes & np.uint64(1)) == TEXT
    rows = collector.part_rows
    part_of = np.concatenate([r.index for r in rows]) if rows else np.empty(0, np.int64)
    kind = np.concatenate([r.kind for r in rows]) if rows else np.empty(0, np.int64)
    first = np.concatenate([r.first_line for r in rows]) if rows else np.empty(0, np.int64)
    last = np.concatenate([r.last_line for r in rows]) if rows else np.empty(0, np.int64)
    owner = np.concatenate(collector.part_owner) if rows else np.empty(0, np.uint32)
    m = collector.nparts
    alone = np.ones(m, dtype=np.uint8)
    if collector.alone is not None:
        alone[: collector.alone.shape[0]] = collector.alone
        alone[collector.alone.shape[0] :] = 0  # the ``shared`` parts
    return OutputTable(
        ids=np.array(collector.ids, dtype=f"S{width}"),
        vendor=np.array(collector.vendor, dtype=np.int32),
        model=np.array(collector.model, dtype=np.int32),
        nfp_code=np.bincount(owners[~text], minlength=n).astype(np.int32),
        nfp_text=np.bincount(owners[text], minlength=n).astype(np.int32),
        part_output=owner.astype(np.uint32),
        part_index=part_of.astype(np.int32),
        part_kind=kind.astype(np.uint8),
        part_first_line=first.astype(np.int32),
        part_last_line=last.astype(np.int32),
        part_nfp_code=np.bincount(parts[~text], minlength=m).astype(np.int32),
        part_nfp_text=np.bincount(parts[text], minlength=m).astype(np.int32),
        part_alone=alone,
    )


def _extend(old: OutputTable, new: OutputTable, outputs: int) -> OutputTable:
    """``old`` followed by ``new``, whose part rows name outputs after ``outputs`` old ones."""
    width = max(old.ids.dtype.itemsize, new.ids.dtype.itemsize)
    joined = {
        name: np.concatenate([getattr(old, name), getattr(new, name)])
        for name in TABLE_ARRAYS
        if name not in ("ids", "part_output")
    }
    return OutputTable(
        ids=np.concatenate([old.ids.astype(f"S{width}"), new.ids.astype(f"S{width}")]),
        part_output=np.concatenate([old.part_output, new.part_output + np.uint32(outputs)]),
        **joined,
    )


def _clear(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
