"""Plain files: one file, one document, written back byte for byte.

The text is the file's bytes decoded as strict UTF-8 and kept exactly so (a byte-order mark
stays in the text as U+FEFF), so spans index into what is on disk. A file with a compression
suffix (``notes.md.gz``) is decompressed first; its output is still the input's own bytes. A NUL
byte in the first 8 KiB makes a file binary, and a file whose first bytes announce a container
this scan does not read (a 7z archive, a Parquet file without its suffix...) is skipped as that,
never as a mere "binary file".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from distillguard.errors import InputError
from distillguard.scan.formats.base import (
    BINARY_SNIFF,
    Document,
    Fields,
    Format,
    Skipped,
    Unit,
    os_reason,
    side_of,
    write_file,
)
from distillguard.scan.formats.codecs import codec_of, decompress, sniff


def read(unit: Unit, _fields: Fields) -> list[Document | Skipped]:
    return [read_file(unit.path)]


def read_file(path: str) -> Document | Skipped:
    """One plain file as a document: read once, decoded once (strict UTF-8, BOM kept)."""
    try:
        with open(path, "rb", buffering=0) as fh:
            data = fh.readall()
    except OSError as exc:
        return Skipped(path, os_reason(exc))
    codec = codec_of(path)
    try:
        content = decompress(codec, data)
    except InputError as exc:
        return Skipped(path, str(exc))
    return file_document(path, data, content)


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
            bad = exc.start
    else:
        bad = -1
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
