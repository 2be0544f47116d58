"""JSONL record files (``.jsonl``/``.ndjson``, optionally ``.gz``/``.zst``/``.bz2``/``.xz``).

Reading: every line is a record (see :mod:`records` for where its text is), named ``PATH:n``
(1-based line after decompression) or by its id field. orjson parses each line's bytes (it
checks UTF-8 itself; about 3x the standard library); a line it refuses is explained by
``unreadable``. When the stream breaks (a truncated or corrupt .gz/.zst/.bz2/.xz) or inflates
past the ratio cap (see ``Limits``), the lines before the break are documents and a last
``Skipped`` for the file says where.

Memory follows ``Limits.document_bytes``, not the input: a line longer than that is not
gathered (only its length is counted while it is read past) and is one ``Skipped``. Blank lines
are no records; they cost no memory and one ``Skipped`` for the file, however many there are.

Writing: a line is written unchanged (never re-serialized), ending in ``\\n``, compressed like
its input at the codec's fastest level (an input copied whole keeps its own bytes).
Compressing is the dearest step of a scan, so the clean lines of a compressed input are
*held*, not compressed, while they are exactly the input's lines from the first, none left
out: if the input ends there, intact, the clean output is a copy of the input file. The first
gap starts the compressed stream with what was held. What is held stays in memory up to
``HOLD_BYTES`` and is then spilled, uncompressed, to a temporary file beside the output; the
input is decompressed once.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

from distillguard.errors import InputError
from distillguard.scan.formats.base import (
    CLEAN,
    Document,
    Fields,
    Format,
    Skipped,
    Unit,
    copy_file,
    open_for_write,
    side_of,
)
from distillguard.scan.formats.codecs import codec_of, compressor, decompressed_chunks
from distillguard.scan.formats.records import record_document

FLUSH_BYTES = 1 << 20
BLANKS_SHOWN = 5
HOLD_BYTES = 16 << 20
SPILL_CHUNK = 1 << 20


class Line(NamedTuple):
    """A record line as its sink needs it: where it is, its bytes, and whether it is the last
    line of an input that ended intact."""

    number: int
    data: bytes
    last: bool


class Cut(NamedTuple):
    """A line over the cap: only its length was kept."""

    size: int


# --- reading --------------------------------------------------------------------------------


def read(unit: Unit, fields: Fields) -> Iterator[Document | Skipped]:
    """The records of a JSONL file, each given when the next line (or the end) is known, so the
    last one says whether the file ended intact."""
    path = unit.path
    pending: tuple[int, bytes | Cut] | None = None
    blanks = _Blanks(path)
    number = 0
    try:
        for line in lines(decompressed_chunks(path, fields.limits), fields.limits.document_bytes):
            number += 1
            if pending is not None:
                yield parse_line(path, *pending, fields, last=False)
                pending = None
            if line.__class__ is bytes and (not line or line.isspace()):
                blanks.add(number)
            else:
                pending = (number, line)
    except InputError as exc:
        if pending is not None:
            yield parse_line(path, *pending, fields, last=False)
        yield from blanks.summary()
        where = f"; read stopped after line {number}" if number else ""
        yield Skipped(path, f"{exc}{where}")
        return
    if pending is not None:
        yield parse_line(path, *pending, fields, last=True)
    yield from blanks.summary()


class _Blanks:
    """The blank lines of a file: counted, the first few by number, and told in one entry."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        self.first: list[int] = []

    def add(self, number: int) -> None:
        self.count += 1
        if self.count <= BLANKS_SHOWN:
            self.first.append(number)

    def summary(self) -> Iterator[Skipped]:
        """One entry for them all (a lone one is named by its line, as any bad line is)."""
        if self.count == 1:
            yield Skipped(f"{self.path}:{self.first[0]}", "blank line (no JSON record)")
        elif self.count:
            shown = ", ".join(map(str, self.first)) + (", ..." if self.count > BLANKS_SHOWN else "")
            yield Skipped(self.path, f"{self.count:,} blank lines (no JSON record): lines {shown}")


def lines(chunks: Iterable[bytes], cap: int) -> Iterator[bytes | Cut]:
    """Lines without their newline; a line over ``cap`` bytes as a ``Cut`` (it is not gathered:
    memory stays within the cap and a chunk). A last line without a newline still counts; a line
    cut off by a broken stream does not (the exception leaves before it is yielded)."""
    pending: list[bytes] = []
    size = 0  # of the line begun in earlier chunks; over ``cap``: it is being read past
    for chunk in chunks:
        parts = chunk.split(b"\n")
        tail = parts.pop()
        if parts:
            yield _joined(pending, size, parts[0], cap)
            if len(chunk) <= cap:  # no line of it can be over the cap (the common case)
                yield from islice(parts, 1, None)
            else:
                yield from (p if len(p) <= cap else Cut(len(p)) for p in islice(parts, 1, None))
            pending, size = [], 0
        size += len(tail)
        if size > cap:
            pending = []
        elif tail:
            pending.append(tail)
    if size > cap:
        yield Cut(size)
    elif pending:
        yield b"".join(pending)


def _joined(pending: list[bytes], size: int, end: bytes, cap: int) -> bytes | Cut:
    """The line begun in earlier chunks (``size`` bytes, ``pending`` unless over the cap) that
    ``end`` ends."""
    if size + len(end) > cap:
        return Cut(size + len(end))
    if pending:
        pending.append(end)
        return b"".join(pending)
    return end


def parse_line(
    path: str, number: int, line: bytes | Cut, fields: Fields, *, last: bool
) -> Document | Skipped:
    """One JSONL line as a document, or why it cannot be one."""
    where = f"{path}:{number}"
    if isinstance(line, Cut):
        return Skipped(where, fields.limits.too_large(line.size, "line"))
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return unreadable(where, line)
    return record_document(where, record, fields, Line(number, line, last), len(line))


def unreadable(where: str, line: bytes) -> Skipped:
    """Why a line orjson refused is no record (its bytes are decoded first, so invalid UTF-8
    is named as such)."""
    try:
        orjson.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Skipped(where, f"invalid UTF-8 at byte {exc.start} of the line")
    except orjson.JSONDecodeError as exc:
        blank = not line.strip()
        return Skipped(where, "blank line (no JSON record)" if blank else f"malformed JSON: {exc}")
    return Skipped(where, "malformed JSON")  # not reached: orjson reads both forms alike


# --- writing --------------------------------------------------------------------------------


class LineStream:
    """One output JSONL file: lines gathered into ~1 MiB writes, compressed like its name."""

    def __init__(self, path: Path) -> None:
        self._file = open_for_write(path)
        self._out = compressor(self._file, path.name)
        self._lines: list[bytes] = []
        self._size = 0

    def write(self, line: bytes) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        if self._size >= FLUSH_BYTES:
            self._flush()

    def write_bytes(self, data: bytes) -> None:
        """Write bytes that are already whole lines, after the lines written before."""
        if self._lines:
            self._flush()
        self._out.write(data)

    def _flush(self) -> None:
        self._lines.append(b"")
        self._out.write(b"\n".join(self._lines))
        self._lines.clear()
        self._size = 0

    def close(self) -> None:
        try:
            if self._lines:
                self._flush()
            self._out.close()
        finally:
            self._file.close()


class _Held:
    """Clean lines not yet written: in memory, then spilled to a temporary file."""

    def __init__(self, spill_dir: Path) -> None:
        self._dir = spill_dir
        self._lines: list[bytes] = []
        self._size = 0
        self._spill: BinaryIO | None = None

    def add(self, line: bytes) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        if self._size >= HOLD_BYTES:
            self._to_disk()

    def _to_disk(self) -> None:
        if self._spill is None:
            self._dir.mkdir(parents=True, exist_ok=True)
            # Held across calls and closed by drop(); unlinked at once, so nothing is left.
            self._spill = tempfile.TemporaryFile(dir=self._dir, prefix=".held-")  # noqa: SIM115
        self._lines.append(b"")
        self._spill.write(b"\n".join(self._lines))
        self._lines, self._size = [], 0

    def empty(self) -> bool:
        return self._spill is None and not self._lines

    def pour(self, stream: LineStream) -> None:
        """Write everything held to ``stream``, in order."""
        if self._spill is not None:
            self._spill.seek(0)
            while chunk := self._spill.read(SPILL_CHUNK):
                stream.write_bytes(chunk)
        for line in self._lines:
            stream.write(line)
        self.drop()

    def drop(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        self._lines, self._size = [], 0


class _JsonlSink:
    """Writes lines to their side; holds the clean lines of a compressed input while they are
    the input itself (see the module docstring)."""

    def __init__(self, unit: Unit, out_dir: Path) -> None:
        self._unit = unit
        self._out_dir = out_dir
        self._streams: dict[str, LineStream] = {}
        compressed = codec_of(unit.path) is not None
        self._held: _Held | None = _Held(out_dir / CLEAN) if compressed else None
        self._next = 1
        self._whole = False

    def _stream(self, side: str) -> LineStream:
        stream = self._streams.get(side)
        if stream is None:
            path = self._out_dir / side / self._unit.out_rel
            stream = self._streams[side] = LineStream(path)
        return stream

    def write(self, doc: Document, quarantined: bool) -> None:
        line: Line = doc.raw
        if self._held is not None:
            if not quarantined and line.number == self._next:
                self._held.add(line.data)
                self._next += 1
                self._whole = line.last
                return
            self._release()
        self._stream(side_of(quarantined)).write(line.data)

    def _release(self) -> None:
        """Stop holding: the clean output is no copy of the input; write what was held."""
        held, self._held = self._held, None
        if held is not None and not held.empty():
            held.pour(self._stream(CLEAN))

    def close(self) -> None:
        try:
            if self._held is not None and self._whole:
                self._held.drop()
                self._held = None
                copy_file(self._unit.path, self._out_dir / CLEAN / self._unit.out_rel)
            else:
                self._release()
                if not self._streams:
                    self._stream(CLEAN)  # a record file without documents: still a clean output
        finally:
            streams, self._streams = list(self._streams.values()), {}
            for stream in streams:
                stream.close()


def _sink(unit: Unit, out_dir: Path) -> Any:
    return _JsonlSink(unit, out_dir)


FORMAT = Format("jsonl", read, _sink)
