"""The on-disk index: a manifest, per-output arrays, a stoplist and sorted segments.

Layout of an index directory::

    manifest.json          settings id, ledger position, segment names, counts
    outputs/ids.npy        output ids (fixed-width bytes), one row per indexed output
    outputs/vendor.npy     vendor number per output (names in the manifest)
    outputs/model.npy      model number per output (names in the manifest)
    outputs/nfp_code.npy   code-channel fingerprints per output after suppression, and
    outputs/nfp_text.npy   text-channel ones (the containment denominators)
    outputs/part_*.npy     per part of an output (a code unit, a paragraph): its output
                           number, ordinal in the output, kind, first and last line, and its
                           own code- and text-channel fingerprint counts, and whether it
                           is judged on its own (mostly its output's own fingerprints)
    stop.npy               sorted suppressed hashes (boilerplate: too common, or background);
                           no segment holds one (build and update leave them out)
    seg-NNNN/keys.npy      low 32 bits of each posting's hash, sorted within its bucket
    seg-NNNN/postings.npy  part number of each posting (uint32): a fingerprint is the
                           evidence of one part of one output
    seg-NNNN/directory.npy first row of each bucket (the hash's top ``bits``)
    seg-NNNN/filter.npy    a blocked Bloom filter of the keys, by bucket (see ``bloom``)

Everything is memory-mapped when read. Writers build a new directory and swap it in, so a
reader never sees half an index.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distillguard.errors import IndexError_
from distillguard.fingerprint import FingerprintConfig
from distillguard.index import bloom

FORMAT = 3
SEGMENT_ARRAYS = ("keys", "postings", "directory", "filter")
PART_ARRAYS = (
    "part_output",
    "part_index",
    "part_kind",
    "part_first_line",
    "part_last_line",
    "part_nfp_code",
    "part_nfp_text",
    "part_alone",
)
TABLE_ARRAYS = ("ids", "vendor", "model", "nfp_code", "nfp_text", *PART_ARRAYS)
MANIFEST = "manifest.json"


@dataclass
class Manifest:
    """What an index holds and how it was made."""

    fp_config: str
    config: dict[str, Any]
    ledger: str
    last_seq: int = 0
    last_id: str = ""
    outputs: int = 0
    parts: int = 0
    segments: list[str] = field(default_factory=list)
    vendors: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    df_max: int = 0
    stopped: int = 0
    background: list[str] = field(default_factory=list)
    has_prose: bool = False
    table: str = "outputs"
    stop: str = "stop.npy"
    format: int = FORMAT

    def fingerprint_config(self) -> FingerprintConfig:
        return FingerprintConfig(**self.config)

    @classmethod
    def read(cls, root: Path) -> Manifest:
        try:
            data = json.loads((root / MANIFEST).read_text())
        except FileNotFoundError as exc:
            raise IndexError_(f"no index at {root}: run `distillguard index build`") from exc
        except (OSError, ValueError) as exc:
            raise IndexError_(f"index manifest {root / MANIFEST} is unreadable: {exc}") from exc
        if data.get("format") != FORMAT:
            raise IndexError_(f"index at {root} has format {data.get('format')}, need {FORMAT}")
        return cls(**data)

    def write(self, root: Path) -> None:
        tmp = root / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, root / MANIFEST)


@dataclass(frozen=True)
class Segment:
    """One posting per row, grouped by bucket (the top ``bits`` of the hash) and sorted by key.

    ``keys`` keeps the low 32 bits of each hash: with the bucket that makes 56+ bits per hash
    at scale, 8 bytes per posting with ``postings`` (the part number). ``filter`` answers
    most misses in one memory access, without the directory.
    """

    keys: np.ndarray
    postings: np.ndarray
    directory: np.ndarray
    filter: np.ndarray

    @property
    def bits(self) -> int:
        return int(self.directory.shape[0] - 1).bit_length() - 1

    @classmethod
    def build(cls, hashes: np.ndarray, outputs: np.ndarray) -> Segment:
        """From ``(hash, part)`` pairs, unique per output."""
        bits = int(min(27, max(4, (max(hashes.shape[0], 1) // 2).bit_length())))
        buckets = hashes >> np.uint64(64 - bits)
        keys = (hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        order = np.argsort((buckets << np.uint64(32)) | keys.astype(np.uint64), kind="stable")
        directory = np.searchsorted(buckets[order], np.arange((1 << bits) + 1, dtype=np.uint64))
        keys, directory = keys[order], directory.astype(np.uint32)
        postings = outputs[order].astype(np.uint32)
        return cls(keys, postings, directory, bloom.build(keys, directory))

    def save(self, path: Path) -> None:
        path.mkdir(parents=True)
        for name in SEGMENT_ARRAYS:
            np.save(path / f"{name}.npy", getattr(self, name))

    @classmethod
    def load(cls, path: Path) -> Segment:
        return cls(**{n: _load(path / f"{n}.npy") for n in SEGMENT_ARRAYS})


def _load(path: Path) -> np.ndarray:
    try:
        return np.asarray(np.load(path, mmap_mode="r"))
    except (OSError, ValueError) as exc:
        raise IndexError_(f"index file {path} is missing or corrupt: {exc}") from exc


@dataclass(frozen=True)
class OutputTable:
    """Per-output arrays (row ``i`` = output number ``i``) and per-part arrays (``part_*``,
    row ``p`` = part number ``p`` in the postings)."""

    ids: np.ndarray
    vendor: np.ndarray
    model: np.ndarray
    nfp_code: np.ndarray
    nfp_text: np.ndarray
    part_output: np.ndarray
    part_index: np.ndarray
    part_kind: np.ndarray
    part_first_line: np.ndarray
    part_last_line: np.ndarray
    part_nfp_code: np.ndarray
    part_nfp_text: np.ndarray
    part_alone: np.ndarray

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        for name in TABLE_ARRAYS:
            np.save(path / f"{name}.npy", getattr(self, name))

    @classmethod
    def load(cls, path: Path) -> OutputTable:
        return cls(**{n: _load(path / f"{n}.npy") for n in TABLE_ARRAYS})


@dataclass(frozen=True)
class Index:
    """An opened (memory-mapped) index."""

    root: Path
    manifest: Manifest
    outputs: OutputTable
    stop: np.ndarray
    segments: tuple[Segment, ...]

    @classmethod
    def open(cls, root: Path) -> Index:
        manifest = Manifest.read(root)
        return cls(
            root=root,
            manifest=manifest,
            outputs=OutputTable.load(root / manifest.table),
            stop=_load(root / manifest.stop),
            segments=tuple(Segment.load(root / name) for name in manifest.segments),
        )

    def output_id(self, number: int) -> str:
        return bytes(self.outputs.ids[number]).decode("ascii")


def swap_in(staging: Path, root: Path) -> None:
    """Replace ``root`` with the fully written ``staging`` directory."""
    old = root.with_name(root.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if root.exists():
        os.replace(root, old)
    os.replace(staging, root)
    if old.exists():
        shutil.rmtree(old)
