"""What the columnar formats (Parquet, Arrow IPC, Hugging Face datasets) share.

Reading: the rows of pyarrow record batches as documents. A string text column (``string``,
``large_string``, ``string_view``, or a dictionary of them) is read straight from the batch
(the fast path: ``to_numpy``, no per-row work but building the document). Anything else that
holds text, a nested ``--text-field`` path or, without one, a chat shape (``messages``,
``conversations``, ``chosen``/``rejected``, ``prompt``/``completion``...), is read through
:mod:`~distillguard.scan.formats.records`, from the rows of just the columns it needs as dicts.
A schema that cannot give text (no such column, a column of numbers) is one ``Skipped`` for
the whole file, naming its columns. Rows are named ``WHERE:i`` (0-based) or by the id field.
A row whose text is over ``Limits.document_bytes`` characters is skipped as too large.

A document's ``raw`` is a ``RowRef``: ``(chunk, row)``, the batch it was read from (a ``Chunk``)
and its row in it.

Writing: ``RowRouter`` routes the decided rows of each input file (a ``Part``) batch by batch
into its clean and quarantine writers, which write with the input's schema (metadata
included). Rows not decided (skipped ones) go to neither side. While every row of a part so far
is a clean document, from the first, none left out, the batches are only held (up to
``HELD_BYTES``): a part that ends so, read to its end intact, is copied as it is. When the run
breaks, the held batches are written; a run that outgrew ``HELD_BYTES`` was let go instead, and
its rows are read from the input again (bounded memory, and copying whole clean files, the
common case, costs no encoding).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from distillguard.errors import InputError
from distillguard.scan.formats.base import (
    CLEAN,
    QUARANTINE,
    Document,
    Fields,
    Limits,
    Skipped,
    Unit,
    copy_file,
    os_reason,
)
from distillguard.scan.formats.records import (
    CHAT_ANCHORS,
    CHAT_KEYS,
    DEFAULT_FIELD,
    record_document,
)

HELD_BYTES = 64 << 20
CLEAN_CODE = 1
QUARANTINE_CODE = 2
SHOWN_COLUMNS = 20
_HEAD = re.compile(r"[.\[]")


@dataclass(slots=True, eq=False)
class Part:
    """One input file of a unit as its sink sees it.

    ``kind`` names it in reasons (``"Parquet"``); ``options`` is how its format writes it
    (codec, IPC flavour); ``rows`` is set by the reader once the file was read to its end
    intact, so the sink knows a wholly clean file may be copied.
    """

    path: str
    out_rel: str
    kind: str
    schema: Any
    options: Any = None
    rows: int | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Chunk:
    """A record batch read from a part; ``first`` is the part's row it starts at."""

    batch: Any
    first: int
    part: Part


# A document's ``raw``: its chunk and its row in the chunk's batch. A bare tuple: a named one
# costs ~0.6 us more per row, some 15% of the fast path.
RowRef = tuple[Chunk, int]


@dataclass(frozen=True, slots=True)
class Plan:
    """How a schema's rows become documents: the string ``column`` read directly (ids from the
    column ``id``), or, when ``column`` is None, the rows of ``columns`` as records."""

    column: str | None
    columns: tuple[str, ...] = ()
    id: str | None = None


# --- reading --------------------------------------------------------------------------------


def arrow_errors() -> tuple[type[BaseException], ...]:
    """What pyarrow raises on a file it cannot read."""
    import pyarrow as pa

    return (OSError, ValueError, pa.ArrowException)


def column_plan(schema: Any, fields: Fields) -> Plan | str:
    """How to read rows of this schema with these fields, or why its rows hold no text."""
    names = list(schema.names)
    plan = _text_plan(schema, names, fields)
    if isinstance(plan, str) or fields.id is None:
        return plan
    if fields.id not in names and _head(fields.id) not in names:
        return f"no '{fields.id}' column (columns: {_shown(names)})"
    if plan.column is not None and fields.id in names:
        return Plan(plan.column, plan.columns, fields.id)
    id_column = fields.id if fields.id in names else _head(fields.id)
    return Plan(None, (*plan.columns, id_column))  # an id path: records


def _text_plan(schema: Any, names: list[str], fields: Fields) -> Plan | str:
    """The plan for the text alone (``columns``: the columns it is read from)."""
    key = DEFAULT_FIELD if fields.text is None else fields.text
    if key in names:
        return _column_plan(schema.field(key).type, key, fields)
    if fields.text is None:
        return _chat_plan(names)
    return _path_plan(names, fields.text)


def _column_plan(kind: Any, key: str, fields: Fields) -> Plan | str:
    if is_text_type(kind):
        return Plan(key, (key,))
    if fields.text is not None and _is_nested(kind):
        return Plan(None, (key,))
    return f"column '{key}' is {kind}, not a string"


def _chat_plan(names: list[str]) -> Plan | str:
    if not any(anchor <= set(names) for anchor in CHAT_ANCHORS):
        return f"no '{DEFAULT_FIELD}' column and no known chat shape (columns: {_shown(names)})"
    return Plan(None, tuple(n for n in names if n in CHAT_KEYS))


def _path_plan(names: list[str], text: str) -> Plan | str:
    head = _head(text)
    if head == text:
        return f"no '{text}' column (columns: {_shown(names)})"
    if head not in names:
        return f"no '{head}' column for the text field '{text}' (columns: {_shown(names)})"
    return Plan(None, (head,))


def _head(path: str) -> str:
    """The column a field path starts at: ``messages[].content`` -> ``messages``."""
    return _HEAD.split(path, maxsplit=1)[0]


def _shown(names: list[str]) -> str:
    more = ", ..." if len(names) > SHOWN_COLUMNS else ""
    return (", ".join(names[:SHOWN_COLUMNS]) or "none") + more


def is_text_type(kind: Any) -> bool:
    """Whether an Arrow type is read as text directly (a string, or a dictionary of them)."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_view(kind))


def _is_view(kind: Any) -> bool:
    import pyarrow as pa

    test = getattr(pa.types, "is_string_view", None)
    return bool(test and test(kind))


def _is_nested(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_nested(kind))


def read_rows(
    batches: Iterable[Any], part: Part, plan: Plan, fields: Fields, where: str, start: int = 0
) -> Iterator[Document | Skipped]:
    """The documents of a part's batches, named ``where:i`` from ``i = start``. When reading
    breaks, the rows before it stay documents and one ``Skipped`` names the part and the row;
    otherwise ``part.rows`` is set once the last batch is read."""
    row = 0
    try:
        for batch in batches:
            yield from batch_documents(Chunk(batch, row, part), plan, fields, where, start + row)
            row += batch.num_rows
    except arrow_errors() as exc:
        read = f" (rows 0-{row - 1} were read)" if row else ""
        yield Skipped(part.path, f"corrupt {part.kind} at row {row}: {exc}{read}")
        return
    part.rows = row


def batch_documents(
    chunk: Chunk, plan: Plan, fields: Fields, where: str, start: int
) -> Iterator[Document | Skipped]:
    """The documents of one batch, named ``where:i`` from ``i = start`` (or by id)."""
    if plan.column is None:
        return _records(chunk, plan, fields, where, start)
    if plan.id is None:
        return _texts(chunk, plan.column, where, start, fields.limits)
    return _texts_with_ids(chunk, plan.column, plan.id, where, start, fields.limits)


def _texts(
    chunk: Chunk, column: str, where: str, start: int, limits: Limits
) -> Iterator[Document | Skipped]:
    texts = chunk.batch.column(column).to_numpy(zero_copy_only=False)
    cap = limits.document_bytes
    for i, text in enumerate(texts):
        name = f"{where}:{start + i}"
        if text is None:
            yield Skipped(name, f"'{column}' is null")
        elif len(text) > cap:
            yield Skipped(name, limits.too_large(len(text), f"'{column}'", "characters"))
        else:
            yield Document(name, text, (chunk, i))


def _texts_with_ids(
    chunk: Chunk, column: str, id_column: str, where: str, start: int, limits: Limits
) -> Iterator[Document | Skipped]:
    texts = chunk.batch.column(column).to_numpy(zero_copy_only=False)
    ids = chunk.batch.column(id_column).to_pylist()
    for i, (text, doc_id) in enumerate(zip(texts, ids, strict=True)):
        if text is None or doc_id is None:
            null = column if text is None else id_column
            yield Skipped(f"{where}:{start + i}", f"'{null}' is null")
        elif len(text) > limits.document_bytes:
            reason = limits.too_large(len(text), f"'{column}'", "characters")
            yield Skipped(f"{where}:{start + i}", reason)
        else:
            yield Document(str(doc_id), text, (chunk, i))


def _records(
    chunk: Chunk, plan: Plan, fields: Fields, where: str, start: int
) -> Iterator[Document | Skipped]:
    rows = chunk.batch.select(list(dict.fromkeys(plan.columns))).to_pylist()
    for i, row in enumerate(rows):
        yield record_document(f"{where}:{start + i}", row, fields, (chunk, i))


# --- writing --------------------------------------------------------------------------------


class BatchWriter(Protocol):
    """One output file of a columnar format."""

    def write(self, batch: Any) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Writing:
    """How a columnar format writes: ``writer`` makes an output file for a part (with its
    schema and options), ``batches`` reads a part's batches again (raising ``InputError``)."""

    writer: Callable[[Path, Part], BatchWriter]
    batches: Callable[[Part], Iterator[Any]]


@dataclass(slots=True)
class _CleanRun:
    """A part's rows while every one so far is a clean document, from the first, none left
    out; ``held`` is None once the batches outgrew ``HELD_BYTES`` and were let go."""

    rows: int = 0
    held: list[Any] | None = field(default_factory=list)
    size: int = 0
    open: bool = True

    def takes(self, chunk: Chunk, codes: bytearray) -> bool:
        """Whether the chunk continues the run (and take it if so)."""
        if not self.open or chunk.first != self.rows or codes.count(CLEAN_CODE) != len(codes):
            return False
        self.rows += len(codes)
        if self.held is not None:
            self.size += chunk.batch.nbytes
            self.held.append(chunk.batch)
            if self.size > HELD_BYTES:
                self.held = None
        return True


class RowRouter:
    """Routes the decided rows of a unit's parts, in the order read, to clean and quarantine
    files (``out_dir/SIDE/part.out_rel``). ``written`` lists every (side, part) file made."""

    def __init__(self, out_dir: Path, writing: Writing) -> None:
        self._out_dir = out_dir
        self._writing = writing
        self._chunk: Chunk | None = None
        self._codes = bytearray()
        self._run = _CleanRun()
        self._writers: dict[str, BatchWriter] = {}
        self._digest = hashlib.blake2b(digest_size=8)
        self.written: list[tuple[str, Part]] = []

    def write(self, doc: Document, quarantined: bool) -> None:
        ref = doc.raw
        if type(ref) is not tuple or len(ref) != 2 or not isinstance(ref[0], Chunk):
            raise TypeError(f"{doc.doc}: expected a row reference, got {type(ref).__name__}")
        chunk, row = ref
        if chunk is not self._chunk:
            self._switch(chunk)
        self._codes[row] = QUARANTINE_CODE if quarantined else CLEAN_CODE

    def decisions(self) -> str:
        """A digest of every decision routed so far (to name what was written)."""
        return self._digest.hexdigest()

    def close(self) -> None:
        chunk, self._chunk = self._chunk, None
        try:
            if chunk is not None:
                self._end_chunk(chunk)
                self._end_part(chunk.part)
        finally:
            self._close_writers()

    def _switch(self, chunk: Chunk) -> None:
        old = self._chunk
        if old is not None:
            self._end_chunk(old)
            if chunk.part is not old.part:
                self._end_part(old.part)
        self._chunk, self._codes = chunk, bytearray(chunk.batch.num_rows)

    def _end_chunk(self, chunk: Chunk) -> None:
        self._digest.update(self._codes)
        if self._run.takes(chunk, self._codes):
            return
        self._end_run(chunk.part)
        self._route(chunk.batch, self._codes, chunk.part)

    def _end_part(self, part: Part) -> None:
        try:
            if self._run.open and self._run.rows == part.rows:
                self._copy(part)
            else:
                self._end_run(part)
        finally:
            self._close_writers()
            self._run = _CleanRun()

    def _copy(self, part: Part) -> None:
        """The part is wholly clean, every row a document: its clean file is itself."""
        try:
            copy_file(part.path, self._out_dir / CLEAN / part.out_rel)
        except OSError as exc:
            raise InputError(f"{part.path}: cannot copy: {os_reason(exc)}") from exc
        self.written.append((CLEAN, part))

    def _end_run(self, part: Part) -> None:
        """The part is not wholly clean: write the clean rows held back so far."""
        run = self._run
        if not run.open:
            return
        run.open = False
        if run.rows:
            batches = run.held if run.held is not None else self._again(part, run.rows)
            writer = self._side(CLEAN, part)
            for batch in batches:
                writer.write(batch)

    def _again(self, part: Part, rows: int) -> Iterator[Any]:
        """The first ``rows`` rows of a part, read again."""
        try:
            for batch in self._writing.batches(part):
                yield batch.slice(0, rows)
                rows -= batch.num_rows
                if rows <= 0:
                    return
        except arrow_errors() as exc:
            raise InputError(f"{part.path}: rows could not be read again to write: {exc}") from exc
        raise InputError(f"{part.path}: changed while it was being scanned")

    def _route(self, batch: Any, codes: bytearray, part: Part) -> None:
        import numpy as np
        import pyarrow as pa

        array = np.frombuffer(codes, dtype=np.uint8)
        for code, side in ((CLEAN_CODE, CLEAN), (QUARANTINE_CODE, QUARANTINE)):
            mask = array == code
            if mask.all():
                self._side(side, part).write(batch)
            elif mask.any():
                self._side(side, part).write(batch.filter(pa.array(mask)))

    def _side(self, side: str, part: Part) -> BatchWriter:
        writer = self._writers.get(side)
        if writer is None:
            path = self._out_dir / side / part.out_rel
            writer = self._writers[side] = self._writing.writer(path, part)
            self.written.append((side, part))
        return writer

    def _close_writers(self) -> None:
        writers, self._writers = list(self._writers.values()), {}
        with ExitStack() as stack:
            for writer in writers:
                stack.callback(writer.close)


class FileSink:
    """The sink of a one-file columnar unit. A unit that gave no document still gets an empty
    clean file with its schema, when the input can be opened (``part_of``)."""

    def __init__(
        self, unit: Unit, out_dir: Path, writing: Writing, part_of: Callable[[Unit], Part | None]
    ) -> None:
        self._unit = unit
        self._out_dir = out_dir
        self._writing = writing
        self._part_of = part_of
        self._router = RowRouter(out_dir, writing)

    def write(self, doc: Document, quarantined: bool) -> None:
        self._router.write(doc, quarantined)

    def close(self) -> None:
        self._router.close()
        if self._router.written:
            return
        part = self._part_of(self._unit)
        if part is not None:
            self._writing.writer(self._out_dir / CLEAN / part.out_rel, part).close()
