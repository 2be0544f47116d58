"""Scan formats: one module per format, each reading and writing it (see ``base``).

``kind_of`` names the format of a file by its name; ``dir_kind`` the format of a directory that
is one dataset (a Hugging Face ``save_to_disk`` directory), which is then a unit of its own.
"""

from __future__ import annotations

from types import MappingProxyType

from distillguard.scan.formats import archive, arrow, csv, json, jsonl, parquet, plain
from distillguard.scan.formats.base import (
    CLEAN,
    QUARANTINE,
    Document,
    Fields,
    Format,
    Limits,
    Sink,
    Skipped,
    Unit,
    os_reason,
)
from distillguard.scan.formats.codecs import codec_of, strip_codec

FORMATS: MappingProxyType[str, Format] = MappingProxyType(
    {
        fmt.name: fmt
        for fmt in (
            plain.FORMAT,
            jsonl.FORMAT,
            json.FORMAT,
            csv.FORMAT,
            parquet.FORMAT,
            arrow.FORMAT,
            arrow.DATASET_FORMAT,
            archive.FORMAT,
        )
    }
)
ARCHIVE_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".zip")
SUFFIX_KINDS = MappingProxyType(
    {
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "json",
        ".csv": "csv",
        ".tsv": "csv",
        ".parquet": "parquet",
        ".arrow": "arrow",
        ".feather": "arrow",
        ".ipc": "arrow",
    }
)
UNCOMPRESSED_ONLY = frozenset({"parquet", "arrow"})

__all__ = [
    "CLEAN",
    "FORMATS",
    "QUARANTINE",
    "Document",
    "Fields",
    "Format",
    "Limits",
    "Sink",
    "Skipped",
    "Unit",
    "dir_kind",
    "format_of",
    "kind_of",
    "os_reason",
]


def kind_of(name: str) -> str:
    """The format a file is read as, by its name (a compression suffix is looked through)."""
    lower = name.lower()
    if lower.endswith(ARCHIVE_SUFFIXES):
        return archive.FORMAT.name
    inner = strip_codec(lower)
    dot = inner.rfind(".")
    kind = SUFFIX_KINDS.get(inner[dot:], plain.FORMAT.name) if dot > 0 else plain.FORMAT.name
    if kind in UNCOMPRESSED_ONLY and codec_of(lower):
        return plain.FORMAT.name  # the plain reader names what it finds inside
    return kind


def dir_kind(path: str) -> str | None:
    """The format of a directory that is one dataset, or None for a plain directory."""
    return arrow.DATASET_FORMAT.name if arrow.is_dataset_dir(path) else None


def format_of(unit: Unit) -> Format:
    return FORMATS[unit.kind]
