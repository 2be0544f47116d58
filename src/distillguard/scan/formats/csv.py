"""CSV and TSV files (``.csv``, ``.tsv``, compressed or not): one document per data row.

Reading: the first row is the header, naming the columns; every row after it is a record (a dict
of column name to string) made a document by ``records.record_document``, so ``--text-field``,
``--id-field`` and the chat shapes (``prompt``/``completion`` columns...) work as for JSONL. A
row is named ``PATH:n``, n the 1-based line (after decompression) it starts on, the header being
line 1; with an id column, by its id. A UTF-8 byte-order mark before the header is not part of
the first column's name (it stays in the file's bytes).

The standard ``csv`` module parses (dialect ``excel``, ``excel-tab`` for ``.tsv``), fed the
file's lines one at a time by ``_Lines``, which keeps the lines of the row being parsed: a row's
``raw`` is exactly the bytes of the lines the parser consumed for it (a quoted field may span
lines), so rows are written back byte for byte. Bad input never raises: a row that cannot be a
document (wrong number of fields, invalid UTF-8, a NUL byte, a quote left open at the end, a
stray carriage return, over the cap) is one ``Skipped`` and the rows after it read on; a file
without a usable header, or without the text column, is one ``Skipped``; a broken compressed
stream leaves the rows before the break as documents and one ``Skipped`` saying where it stopped.

``Limits.document_bytes`` (the row cap) bounds the bytes of one row, and so the memory a row
can take; a compressed file stops at the ratio cap like a broken stream. The rest of a row
past the cap is fed to the parser as its *shape* only (quotes, delimiters, line ends; each run
of other bytes as one ``x``), on which the parser's states are the same, so it ends the row
where the full text would have and the rows after it parse as they are. ``csv``'s own field
limit (a process-wide setting) is raised only for each step of the parser and restored after.

Writing: each output (clean, quarantine; compressed like the input) starts with the header as in
the input and is created on first use, but a unit without documents still gets a clean file
holding the header. While every document so far is clean and the rows before it were all
documents, nothing is written: if the file ends so, intact, it is copied as it is; otherwise the
clean output begins with the input's decompressed bytes up to the last such row, read again.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, NoReturn

from distillguard.errors import InputError
from distillguard.scan.formats.base import (
    CLEAN,
    Document,
    Fields,
    Format,
    Limits,
    Sink,
    Skipped,
    Unit,
    copy_file,
    open_for_write,
    side_of,
)
from distillguard.scan.formats.codecs import compressor, decompressed_chunks, strip_codec
from distillguard.scan.formats.records import CHAT_ANCHORS, DEFAULT_FIELD, record_document

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# The parser's field limit while it runs: above any field of a row under the cap, with room for
# the shape of what follows it (which the parser still gathers), so it never cuts a row short.
FIELD_LIMIT_FACTOR = 2
MIN_FIELD_LIMIT = 128 << 20
READ_BUFFER = 1 << 20
SHAPE_PIECE = 1 << 20
FLUSH_BYTES = 1 << 20
COLUMNS_SHOWN = 20
BOM = "\ufeff"


class _Row(NamedTuple):
    """A document's ``raw``: the row's bytes and where it ends in the decompressed file.

    ``unbroken``: every row before it was a document, so the file up to ``end`` is the header
    and document rows. ``last``: that holds for the whole file, which ended intact at ``end``.
    """

    data: bytes
    end: int
    unbroken: bool
    last: bool = False


class _Parsed(NamedTuple):
    """One row as the parser gave it: its first line, its values, its bytes, or what is wrong."""

    line: int
    values: list[str]
    data: bytes
    end: int
    problem: str | None


# --- reading --------------------------------------------------------------------------------


def read(unit: Unit, fields: Fields) -> Iterator[Document | Skipped]:
    """The rows of a CSV or TSV file as documents, in order; what cannot be read as ``Skipped``."""
    return _mark_last(_items(unit.path, fields))


def _items(path: str, fields: Fields) -> Iterator[Document | Skipped | None]:
    """The rows, then None if the file ended intact (a broken stream: a last ``Skipped``)."""
    parser = _Parser(path, fields.limits)
    try:
        yield from _records(parser, path, fields)
        yield None
    except InputError as exc:
        where = f"; read stopped after line {parser.done}" if parser.done else ""
        yield Skipped(path, f"{exc}{where}")
    finally:
        parser.close()


def _mark_last(items: Iterator[Document | Skipped | None]) -> Iterator[Document | Skipped]:
    """The items, the last document marked (``_Row.last``) when the file ended intact after it
    and every row was a document. Each document is held until the next item says which."""
    held: Document | None = None
    for item in items:
        if held is not None:
            yield _as_last(held) if item is None else held
            held = None
        if isinstance(item, Document):
            held = item
        elif item is not None:
            yield item
    # the items always end with None or a Skipped, so nothing is held here


def _as_last(doc: Document) -> Document:
    row: _Row = doc.raw
    return replace(doc, raw=row._replace(last=True)) if row.unbroken else doc


def _records(parser: _Parser, path: str, fields: Fields) -> Iterator[Document | Skipped]:
    names = _names(path, parser.next_row())
    if isinstance(names, Skipped):
        yield names
        return
    problem = _columns_problem(names, fields)
    if problem is not None:
        yield Skipped(path, problem)
        return
    unbroken = True
    while (row := parser.next_row()) is not None:
        item = _record(f"{path}:{row.line}", row, names, fields, unbroken)
        unbroken = unbroken and isinstance(item, Document)
        yield item


def _names(path: str, row: _Parsed | None) -> list[str] | Skipped:
    """The column names of the header row, or why the file has no usable header."""
    if row is None:
        return Skipped(path, "no header row: the file is empty")
    problem = _header_problem(row)
    if problem is not None:
        return Skipped(path, problem)
    seen: set[str] = set()
    for name in row.values:
        if name in seen:
            return Skipped(path, f"column '{name}' appears twice in the header")
        seen.add(name)
    return row.values


def _header_problem(row: _Parsed) -> str | None:
    if row.problem is not None:
        return f"no usable header row: {row.problem}"
    if not row.values:
        return "no header row: line 1 is blank"
    return None


def _columns_problem(names: list[str], fields: Fields) -> str | None:
    """Why rows with these columns cannot be read with ``fields``, or None."""
    present = set(names)
    for name in (fields.text, fields.id):
        if name is not None and name not in present:
            return f"no '{name}' column (columns: {_shown(names)})"
    chat = any(anchor <= present for anchor in CHAT_ANCHORS)
    if fields.text is None and DEFAULT_FIELD not in present and not chat:
        return f"no '{DEFAULT_FIELD}' column and no known chat shape (columns: {_shown(names)})"
    return None


def _shown(names: list[str]) -> str:
    more = ", ..." if len(names) > COLUMNS_SHOWN else ""
    return ", ".join(names[:COLUMNS_SHOWN]) + more


def _record(
    where: str, row: _Parsed, names: list[str], fields: Fields, unbroken: bool
) -> Document | Skipped:
    problem = row.problem or _count_problem(row.values, len(names))
    if problem is not None:
        return Skipped(where, problem)
    record = dict(zip(names, row.values, strict=True))
    if fields.id is not None and not record[fields.id]:
        return Skipped(where, f"'{fields.id}' is empty")
    raw = _Row(row.data, row.end, unbroken)
    return record_document(where, record, fields, raw, len(row.data))


def _count_problem(values: list[str], expected: int) -> str | None:
    if not values:
        return "blank line (no CSV row)"
    if len(values) != expected:
        plural = "" if len(values) == 1 else "s"
        return f"{len(values)} field{plural} where the header has {expected}"
    return None


# --- parsing --------------------------------------------------------------------------------


class _Parser:
    """The rows of one file, each with its bytes, its first line and what is wrong with it.

    ``limits`` None: the default row cap and no ratio cap, to read again what was read."""

    def __init__(self, path: str, limits: Limits | None) -> None:
        tab = strip_codec(path.lower()).endswith(".tsv")
        dialect = csv.excel_tab if tab else csv.excel
        chunks = _ChunkStream(decompressed_chunks(path, limits))
        self._stream = io.BufferedReader(chunks, READ_BUFFER)
        limits = limits or Limits()
        self._lines = _Lines(self._stream, dialect.delimiter.encode(), limits)
        self._field_limit = max(FIELD_LIMIT_FACTOR * limits.document_bytes, MIN_FIELD_LIMIT)
        lines = itertools.chain(_without_bom(self._lines), self._lines)
        self._reader = csv.reader(lines, dialect)
        self.done = 0  # the last line of the last row read whole

    def next_row(self) -> _Parsed | None:
        """The next row, or None at the end. Raises ``InputError`` when the stream breaks."""
        try:
            values, error = _step(self._reader, self._field_limit), None
        except csv.Error as exc:
            values, error = [], _csv_reason(exc)
        data, size, flaw = self._lines.take()
        if values is None and not size:
            return None
        line, self.done = self.done + 1, self._lines.lineno
        return _Parsed(line, values or [], data, self._lines.offset, flaw or error)

    def close(self) -> None:
        self._stream.close()


def _without_bom(lines: Iterator[str]) -> Iterator[str]:
    """The first line, without a byte-order mark: it is no part of the first column's name."""
    for line in lines:
        yield line.removeprefix(BOM)
        return


def _step(reader: Iterator[list[str]], field_limit: int) -> list[str] | None:
    """The parser's next row (None at the end), its field limit raised only meanwhile."""
    saved = csv.field_size_limit(field_limit)
    try:
        return next(reader, None)
    finally:
        csv.field_size_limit(saved)


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if text.startswith("new-line character seen in unquoted field"):
        return "a carriage return inside an unquoted field (rows end in \\n or \\r\\n)"
    return f"malformed CSV: {text}"


class _Lines:
    """The file's lines as the parser asks for them, keeping those of the row being parsed.

    The parser asks for a line only when the row goes on, so the lines handed out since the
    last row are this row's. A line that is not UTF-8 is handed out with its bytes escaped (the
    row is then a ``Skipped``). ``_room`` is what is left of the cap (plus one) for the row.
    """

    def __init__(self, stream: BinaryIO, delimiter: bytes, limits: Limits) -> None:
        self._readline = stream.readline
        self._delimiter = delimiter
        self._table = _shape_table(delimiter)
        self._limits = limits
        self._cap = limits.document_bytes
        self.lineno = 0  # lines read so far
        self.offset = 0  # bytes of the rows taken so far
        self._pieces: list[bytes] = []
        self._room = self._cap + 1
        self._flaw: str | None = None  # what is wrong with the row so far

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        room = self._room
        line = self._readline(room if room > 0 else SHAPE_PIECE)
        if not line:
            self._end()
        self.lineno += 1
        self._room -= len(line)
        if self._room <= 0:
            return self._shape_line(line, first=room > 0)
        self._pieces.append(line)
        try:
            return line.decode()
        except UnicodeDecodeError as exc:
            return self._undecodable(line, exc)

    def take(self) -> tuple[bytes, int, str | None]:
        """The row's bytes, size and flaw; the next line begins the next row."""
        data, size, flaw = b"".join(self._pieces), self._cap + 1 - self._room, self._flaw
        if flaw is None and (nul := data.find(b"\0")) >= 0:
            flaw = f"NUL byte at byte {nul} of the row"
        self.offset += size
        self._pieces, self._room, self._flaw = [], self._cap + 1, None
        return data, size, flaw

    def _end(self) -> NoReturn:
        if 0 < self._room <= self._cap:  # the parser asks on inside a quoted field
            self._flaw = "unterminated quoted field at the end of the file"
        raise StopIteration

    def _undecodable(self, line: bytes, exc: UnicodeDecodeError) -> str:
        if self._flaw is None:
            at = self._cap + 1 - self._room - len(line)  # where the line begins in the row
            self._flaw = f"invalid UTF-8 at byte {at + exc.start} of the row"
        return line.decode("utf-8", "surrogateescape")

    def _shape_line(self, piece: bytes, *, first: bool) -> str:
        """The shape of a line of a row over the cap (``first``: it crossed the cap), read to
        its end piece by piece."""
        if first:
            self._pieces = []
            self._flaw = self._limits.too_large(None, "row")
        shapes = [_shape(piece, self._table, self._delimiter)]
        while piece and not piece.endswith(b"\n"):
            piece = self._readline(SHAPE_PIECE)
            self._room -= len(piece)
            shapes.append(_shape(piece, self._table, self._delimiter))
        return b"".join(shapes).decode("ascii")


def _shape_table(delimiter: bytes) -> bytes:
    """A ``bytes.translate`` table: every byte but a quote, a line end and ``delimiter`` to x."""
    table = bytearray(b"x" * 256)
    for byte in b'"\r\n' + delimiter:
        table[byte] = byte
    return bytes(table)


def _shape(piece: bytes, table: bytes, delimiter: bytes) -> bytes:
    """What the parser's states depend on in ``piece``: each run of other bytes and delimiters
    as its last (``x`` for any other byte), of quote pairs as one pair, of carriage returns as
    one. Each pattern is linear: none scans ahead from every position."""
    piece = piece.translate(table)
    piece = re.sub(rb"[x" + delimiter + rb"]*([x" + delimiter + rb"])", rb"\1", piece)
    piece = re.sub(rb'(?:"")+', b'""', piece)
    return re.sub(rb"\r+", b"\r", piece)


class _ChunkStream(io.RawIOBase):
    """Decompressed pieces as a raw stream, so that a buffered reader splits the lines."""

    def __init__(self, chunks: Generator[bytes, None, None]) -> None:
        super().__init__()
        self._chunks = chunks
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        view = memoryview(buffer).cast("B")
        size = min(len(view), len(self._left))
        view[:size] = self._left[:size]
        self._left = self._left[size:]
        return size

    def close(self) -> None:
        self._chunks.close()
        super().close()


# --- writing --------------------------------------------------------------------------------


def sink(unit: Unit, out_dir: Path) -> Sink:
    return _CsvSink(unit, out_dir)


class _CsvSink:
    """Writes rows to the clean and quarantine files of one unit (see the module's notes)."""

    def __init__(self, unit: Unit, out_dir: Path) -> None:
        self._unit = unit
        self._out_dir = out_dir
        self._outputs: dict[str, _Output] = {}
        self._deferring = True  # every document so far is clean, every row before a document
        self._deferred: _Row | None = None  # the last row of that clean prefix
        self._header: bytes | None = None

    def write(self, doc: Document, quarantined: bool) -> None:
        row: _Row = doc.raw
        if self._deferring:
            if not quarantined and row.unbroken:
                self._deferred = row
                return
            self._stop_deferring()
        self._side(side_of(quarantined)).write(row.data)

    def close(self) -> None:
        try:
            if self._deferring:
                self._finish_deferred()
        finally:
            outputs, self._outputs = list(self._outputs.values()), {}
            for output in outputs:
                output.close()

    def _finish_deferred(self) -> None:
        if self._deferred is not None and self._deferred.last:
            copy_file(self._unit.path, self._out_dir / CLEAN / self._unit.out_rel)
            return
        self._stop_deferring()
        self._side(CLEAN)  # a unit without documents still has a clean output

    def _stop_deferring(self) -> None:
        """Write the clean prefix held back so far: the input's bytes up to its last row."""
        self._deferring = False
        if self._deferred is None:
            return
        output = self._open(CLEAN)
        for piece in _decompressed_prefix(self._unit.path, self._deferred.end):
            output.write(piece)

    def _side(self, side: str) -> _Output:
        output = self._outputs.get(side)
        if output is None:
            output = self._open(side)
            output.write(self._header_bytes())
        return output

    def _open(self, side: str) -> _Output:
        output = self._outputs[side] = _Output(self._out_dir / side / self._unit.out_rel)
        return output

    def _header_bytes(self) -> bytes:
        if self._header is None:
            self._header = _header_of(self._unit.path)
        return self._header


def _header_of(path: str) -> bytes:
    """The header row of a CSV file as its bytes, or ``b""`` when it has none that reads."""
    parser = _Parser(path, None)
    try:
        row = parser.next_row()
    except InputError:  # a stream broken before the header ends: it has none
        return b""
    finally:
        parser.close()
    return b"" if row is None or _header_problem(row) else row.data


def _decompressed_prefix(path: str, size: int) -> Iterator[bytes]:
    """The first ``size`` decompressed bytes of a file, read again."""
    chunks = decompressed_chunks(path, None)  # read before, under the caps
    try:
        for chunk in chunks:  # never asks past the prefix: what follows may be broken
            yield chunk[:size]
            size -= len(chunk)
            if size <= 0:
                return
    finally:
        chunks.close()
    raise InputError(f"{path}: changed while it was being scanned")


class _Output:
    """One output file, compressed like its name says, written in pieces of about 1 MiB."""

    def __init__(self, path: Path) -> None:
        self._file = open_for_write(path)
        self._out: Any = compressor(self._file, path.name)
        self._held: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        self._held.append(data)
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        self._out.write(b"".join(self._held))
        self._held, self._size = [], 0

    def close(self) -> None:
        try:
            self._flush()
            self._out.close()
        finally:
            self._file.close()


FORMAT = Format("csv", read, sink)
