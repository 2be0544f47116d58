"""Plain files: one file, one document, written back byte for byte.

The text is the file's bytes decoded as strict UTF-8 and kept exactly so (a byte-order mark
stays in the text as U+FEFF), so spans index into what is on disk. A file with a compression
suffix (``notes.md.gz``) is decompressed first; its output is still the input's own bytes. A NUL
byte in the first 8 KiB makes a file binary, and a file whose first bytes announce a container
this scan does not read (a 7z archive, a Parquet file without its suffix...) is skipped as that,
never as a mere "binary file".

Reading is bounded: the first 8 KiB are read (and a binary file left) before the rest, and a file
over ``Limits.document_bytes``, on disk or decompressed, is skipped as too large without being
read whole (decompression stops at the cap).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from distillguard.errors import InputError
from distillguard.scan.formats.base import (
    BINARY_SNIFF,
    Document,
    Fields,
    Format,
    Limits,
    Skipped,
    Unit,
    os_reason,
    side_of,
    write_file,
)
from distillguard.scan.formats.codecs import codec_of, decompress, sniff


def read(unit: Unit, fields: Fields) -> list[Document | Skipped]:
    return [read_file(unit.path, fields.limits)]


def read_file(path: str, limits: Limits) -> Document | Skipped:
    """One plain file as a document: read once, decoded once (strict UTF-8, BOM kept)."""
    codec = codec_of(path)
    try:
        with open(path, "rb", buffering=0) as fh:
            data = _read_capped(path, codec, fh, limits)
    except OSError as exc:
        return Skipped(path, os_reason(exc))
    if isinstance(data, Skipped):
        return data
    try:
        content = decompress(codec, data, limits.document_bytes)
    except InputError as exc:
        return Skipped(path, str(exc))
    if content is None:
        return Skipped(path, limits.too_large(None, f"file decompressed ({codec})"))
    return file_document(path, data, content)


def _read_capped(path: str, codec: str | None, fh: BinaryIO, limits: Limits) -> bytes | Skipped:
    """The file's bytes; a binary file is left after its first 8 KiB, a file over the cap
    before its rest (a compressed one is judged by its content later)."""
    cap = limits.document_bytes
    head = fh.read(BINARY_SNIFF)
    if codec is None and b"\0" in head:
        return Skipped(path, _problem(head, -1).reason)
    step = BINARY_SNIFF  # a small file has ended: one small read makes sure
    if len(head) == BINARY_SNIFF:
        size = os.fstat(fh.fileno()).st_size
        if size > cap:
            return Skipped(path, limits.too_large(size, "compressed file" if codec else "file"))
        step = max(size - len(head) + 1, BINARY_SNIFF)  # a read allocates what it asks for
    parts = [head]
    room = cap + 1 - len(head)
    while room > 0 and (piece := fh.read(min(room, step))):
        parts.append(piece)
        room -= len(piece)
    data = b"".join(parts) if len(parts) > 1 else head
    return data if len(data) <= cap else Skipped(path, limits.too_large(len(data), "file"))


def file_document(path: str, data: bytes, content: bytes) -> Document | Skipped:
    """The document of a file whose bytes (``data``) and decompressed bytes are in hand."""
    codec = codec_of(path)
    text = decode_text(content)
    if isinstance(text, Problem):
        return Skipped(path, text.reason + (f" (inside its {codec} compression)" if codec else ""))
    return Document(path, text, data, nbytes=len(content))


@dataclass(frozen=True, slots=True)
class Problem:
    """Why some bytes are not a text document."""

    reason: str


def decode_text(data: bytes) -> str | Problem:
    """The bytes as text (strict UTF-8), or the true reason they are not text: binary, a
    container this scan does not read, invalid UTF-8."""
    if data.find(b"\0", 0, BINARY_SNIFF) == -1:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _problem(data, exc.start)
    return _problem(data, -1)


def _problem(data: bytes, bad: int) -> Problem:
    """Why bytes with a NUL (``bad`` -1) or invalid UTF-8 at ``bad`` are no text document."""
    container = sniff(data[:BINARY_SNIFF])
    if container:
        return Problem(f"unsupported container: {container}")
    return Problem("binary file" if bad < 0 else f"invalid UTF-8 at byte {bad}")


class _FileSink:
    """Writes with bare file descriptors and string paths: with many small files the cost is
    per file, not per byte."""

    def __init__(self, unit: Unit, out_dir: Path) -> None:
        self._rel = unit.out_rel
        self._out_dir = os.fspath(out_dir)

    def write(self, doc: Document, quarantined: bool) -> None:
        write_file(os.path.join(self._out_dir, side_of(quarantined), self._rel), doc.raw)

    def close(self) -> None:
        return None


FORMAT = Format("plain", read, _FileSink, records=False)
