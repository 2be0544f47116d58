"""What every scan format shares: documents, skipped entries, units, and the format interface.

A *unit* is one thing to read and write back: a file (plain, JSONL, JSON, CSV, Parquet, Arrow,
an archive) or a Hugging Face dataset directory. A *format* reads a unit into ``Document``s (or
``Skipped`` entries for what cannot be read) and makes the ``Sink`` that writes each document
to ``clean/`` or ``quarantine/`` in the unit's own format. Each format is one module of this
package holding both halves, so adding a format is adding a file.

A document's ``raw`` is whatever its format's sink needs to write it back unchanged (a file's
bytes, a JSONL line, a row reference); only the format that made it reads it.

``Limits`` bound what one input may cost: a document over ``document_bytes`` (a file, a line,
a row, a member, a record's text) and a compressed stream inflating past ``ratio`` times its
size are ``Skipped`` with that reason, never read into memory whole. Readers sniff, split and
decompress in bounded pieces, so memory follows the cap, not the input.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from distillguard.config import DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_MAX_RATIO

CLEAN = "clean"
QUARANTINE = "quarantine"
WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
BINARY_SNIFF = 8192


@dataclass(frozen=True, slots=True)
class Document:
    """One document: its name, its text, and what its format's sink needs to copy it.

    ``fields`` is set when the text was gathered from several strings of a record (a chat, a
    nested path): ``(path, start)`` of each string in ``text``, in order, the strings joined by
    ``records.FIELD_SEPARATOR``. None: the text is one top-level field or a whole file.
    ``nbytes`` is the document's size in its input (what ``report.json`` counts as ``bytes``);
    0: the size of its text in UTF-8.
    """

    doc: str
    text: str
    raw: Any
    fields: tuple[tuple[str, int], ...] | None = None
    nbytes: int = 0

    def size(self) -> int:
        if self.nbytes:
            return self.nbytes
        raw = self.raw
        return (
            len(raw) if isinstance(raw, bytes) else len(self.text.encode("utf-8", "surrogatepass"))
        )


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something that could not be read, with the reason."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unit:
    """One thing to read. ``out_rel`` is its path relative to ``clean/`` or ``quarantine/``;
    ``kind`` names its format."""

    path: str
    kind: str
    out_rel: str
    size: int


@dataclass(frozen=True, slots=True)
class Limits:
    """What one input may cost a scan (``[scan]`` in the config, or the scan's flags).

    ``document_bytes``: the most bytes one document may hold (after decompression). Matching
    takes some 15 times a document's size in memory, so this bounds a worker's memory.
    ``ratio``: a compressed input may inflate to ``ratio`` times its size, or to one document of
    ``document_bytes``, whichever is more; past that it is a decompression bomb, not data.
    """

    document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    ratio: int = DEFAULT_MAX_RATIO

    def inflated(self, compressed: int) -> int:
        """The most bytes a compressed input of ``compressed`` bytes may decompress to."""
        return max(self.document_bytes, self.ratio * compressed)

    def too_large(self, size: int | None, what: str = "document", unit: str = "bytes") -> str:
        """Why a ``what`` of ``size`` bytes (or characters; None: more than the cap, read no
        further) is not read."""
        cap = f"the {self.document_bytes:,}-byte cap"
        told = f"over {cap}" if size is None else f"too large ({size:,} {unit} > {cap})"
        return f"{what} {told}; raise it with --max-document-bytes or [scan] max_document_bytes"


@dataclass(frozen=True, slots=True)
class Fields:
    """How documents are read: which fields of a record hold its text and its name, and the
    ``limits`` every reader keeps to.

    ``text`` None: the ``text`` field, or all the text of a known chat shape when there is none
    (see :mod:`distillguard.scan.formats.records`). ``id`` None: documents are named by place.
    """

    text: str | None = None
    id: str | None = None
    limits: Limits = Limits()


class Sink(Protocol):
    """Writes the documents of one unit, in the order read, to its clean and quarantine sides."""

    def write(self, doc: Document, quarantined: bool) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Format:
    """A format: how to read a unit and how to write its documents back.

    ``records``: a unit that gave no document still gets an (empty) clean output, so a
    pipeline finds every input's counterpart.
    """

    name: str
    read: Callable[[Unit, Fields], Iterable[Document | Skipped]]
    sink: Callable[[Unit, Path], Sink]
    records: bool = True


def side_of(quarantined: bool) -> str:
    return QUARANTINE if quarantined else CLEAN


def os_reason(exc: OSError) -> str:
    """The operating system's words for an error, without the path."""
    return exc.strerror or str(exc)


def open_for_write(path: Path) -> BinaryIO:
    """Open for writing, creating parent directories only when they are missing."""
    try:
        return open(path, "wb")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "wb")


def write_file(path: str, data: bytes) -> None:
    """Write ``data`` with a bare file descriptor: with many small files the cost is per file."""
    try:
        fd = os.open(path, WRITE_FLAGS, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, WRITE_FLAGS, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def copy_file(source: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def json_type(value: object) -> str:
    """A JSON value's type in JSON's words."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number"}
    return names.get(type(value), "number" if isinstance(value, float) else type(value).__name__)
