"""Parquet: every row a document, written back split by row into clean and quarantine files.

Reading (:mod:`~distillguard.scan.formats.columnar`): rows are named ``PATH:i`` (0-based) or by
the id field; a string text column is the fast path, nested text (``messages[].content``, a chat
column) goes through the records reader. Every column is read: the batches the documents point
at are what the sink writes, so a mixed file is not read twice. A file pyarrow cannot open is
one ``Skipped`` (``cannot read Parquet: ...``); a corrupt page keeps the rows before it as
documents and ends with ``corrupt Parquet at row N: ...``.

Writing: the outputs keep the input's schema (metadata included), its compression codec and
its row order, batches gathered into row groups of up to ``FLUSH_ROWS`` rows. A file whose every
row is a clean document is copied as it is. While a file is clean so far its batches are only
held, up to ``columnar.HELD_BYTES``; when a longer clean run then breaks, its rows are read from
the input again (rather than holding a whole large file in memory, or encoding the clean output
of files that turn out wholly clean and are then copied).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

from distillguard.errors import InputError
from distillguard.scan.formats import columnar
from distillguard.scan.formats.base import Document, Fields, Format, Sink, Skipped, Unit
from distillguard.scan.formats.columnar import Part

KIND = "Parquet"
BATCH_ROWS = 8192
FLUSH_ROWS = 1 << 16
FLUSH_BYTES = 64 << 20
CODECS = MappingProxyType(
    {
        "SNAPPY": "snappy",
        "GZIP": "gzip",
        "BROTLI": "brotli",
        "ZSTD": "zstd",
        "LZ4": "lz4",
        "LZ4_RAW": "lz4",
        "UNCOMPRESSED": "none",
    }
)


def read(unit: Unit, fields: Fields) -> Iterator[Document | Skipped]:
    """The rows of a Parquet file as documents, in order (see the module docstring)."""
    opened = _open(unit)
    if isinstance(opened, Skipped):
        yield opened
        return
    pf, part = opened
    with pf:
        plan = columnar.column_plan(part.schema, fields)
        if isinstance(plan, str):
            yield Skipped(unit.path, plan)
            return
        batches = pf.iter_batches(batch_size=BATCH_ROWS)
        yield from columnar.read_rows(batches, part, plan, fields, unit.path)


def _open(unit: Unit) -> tuple[Any, Part] | Skipped:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(unit.path)
    except columnar.arrow_errors() as exc:
        return Skipped(unit.path, f"cannot read Parquet: {exc}")
    return pf, Part(unit.path, unit.out_rel, KIND, pf.schema_arrow, _codec(pf))


def _codec(pf: Any) -> str:
    """The input's compression codec (of its first column chunk), snappy when unknown."""
    meta = pf.metadata
    if meta.num_row_groups == 0 or meta.num_columns == 0:
        return "snappy"
    name = str(meta.row_group(0).column(0).compression).upper()
    return CODECS.get(name, "snappy")


def _part_of(unit: Unit) -> Part | None:
    opened = _open(unit)
    if isinstance(opened, Skipped):
        return None  # unreadable from the start: the reader listed it as skipped
    pf, part = opened
    pf.close()
    return part


def _batches(part: Part) -> Iterator[Any]:
    """A part's batches, read again."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(part.path)
    except columnar.arrow_errors() as exc:
        raise InputError(f"{part.path}: cannot read Parquet again to write: {exc}") from exc
    with pf:
        yield from pf.iter_batches(batch_size=BATCH_ROWS)


class _Writer:
    """One output Parquet file, written lazily, batches gathered into sizeable row groups."""

    def __init__(self, path: Path, part: Part) -> None:
        self._path = path
        self._schema = part.schema
        self._compression = part.options
        self._writer: Any = None
        self._batches: list[Any] = []
        self._rows = 0
        self._bytes = 0

    def write(self, batch: Any) -> None:
        self._batches.append(batch)
        self._rows += batch.num_rows
        self._bytes += batch.nbytes
        if self._rows >= FLUSH_ROWS or self._bytes >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._path, self._schema, compression=self._compression)
        self._writer.write_table(pa.Table.from_batches(self._batches, schema=self._schema))
        self._batches, self._rows, self._bytes = [], 0, 0

    def close(self) -> None:
        if self._batches or self._writer is None:
            self._flush()
        self._writer.close()


WRITING = columnar.Writing(_Writer, _batches)


def sink(unit: Unit, out_dir: Path) -> Sink:
    return columnar.FileSink(unit, out_dir, WRITING, _part_of)


FORMAT = Format("parquet", read, sink)
