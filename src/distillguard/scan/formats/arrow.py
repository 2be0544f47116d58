"""Arrow: IPC files and streams (``.arrow``, ``.feather``, ``.ipc``), and Hugging Face datasets.

Files (``FORMAT``): an IPC file (``ARROW1`` magic; Feather v2 is one), an IPC stream, or a
Feather v1 file (``FEA1``, read and written whole through ``pyarrow.feather``), told apart by
their first bytes. Rows are documents named ``PATH:i`` (0-based) or by the id field, read as
:mod:`~distillguard.scan.formats.columnar` reads batches (each batch is validated in full first:
a corrupt IPC body must be refused, not read out of bounds). Outputs are written in the same
flavour, with the same schema and the body compression (lz4, zstd) of the input's first batch;
a file whose every row is a clean document is copied as it is.

Hugging Face datasets (``DATASET_FORMAT``): a ``Dataset.save_to_disk`` directory (``state.json``
and ``dataset_info.json`` beside Arrow stream shards) or a ``DatasetDict.save_to_disk`` one
(``dataset_dict.json`` naming split subdirectories of that form) is one unit; see
``is_dataset_dir``. The shards named by ``state.json`` (``_data_files``) are read in order with
pyarrow alone; rows are documents named ``DIR:i`` (0-based across the shards) or ``DIR/SPLIT:i``,
or by the id field; the JSON files are never documents. A broken shard keeps the rows before
as documents and one ``Skipped`` names the shard and its row; the rest of that split is not
read (the rows after have no known number). Clean and quarantine are written as datasets of
the same layout and features: each input shard's rows go to the shard of the same name (a
wholly clean shard is copied), ``dataset_info.json`` and ``dataset_dict.json`` are copied, and
``state.json`` lists the shards written under a new ``_fingerprint``. Each side written holds
every split (an empty shard when a split has no rows there; a split whose first shard cannot
be opened is left out); an unreadable layout (its JSON files) is skipped whole and nothing of
it is written. Other files in the directory (caches, a README) are neither read nor copied.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from distillguard.errors import InputError
from distillguard.scan.formats import columnar
from distillguard.scan.formats.base import (
    CLEAN,
    Document,
    Fields,
    Format,
    Sink,
    Skipped,
    Unit,
    copy_file,
    os_reason,
    write_file,
)
from distillguard.scan.formats.codecs import sniff
from distillguard.scan.formats.columnar import Part

FILE = "file"
STREAM = "stream"
FEATHER1 = "feather1"
KINDS = MappingProxyType(
    {FILE: "Arrow IPC file", STREAM: "Arrow IPC stream", FEATHER1: "Feather v1 file"}
)
HEAD_BYTES = 512
FILE_MAGIC_BYTES = 8  # "ARROW1" and its padding, before the stream a file holds
IPC_CODECS = ("lz4", "zstd")  # the BodyCompression codecs of Arrow's Message.fbs, in order
MESSAGE_HEADER = 2  # field numbers in Arrow's Message.fbs: Message.header,
BATCH_COMPRESSION = 3  # RecordBatch.compression

STATE_JSON = "state.json"
INFO_JSON = "dataset_info.json"
DICT_JSON = "dataset_dict.json"

Opened = tuple[Part, Iterator[Any]]


@dataclass(frozen=True, slots=True)
class _Ipc:
    """How an Arrow input is written back: its flavour and its body compression."""

    flavour: str
    codec: str | None


# --- files: reading -------------------------------------------------------------------------


def read(unit: Unit, fields: Fields) -> Iterator[Document | Skipped]:
    """The rows of an Arrow IPC file, stream or Feather file as documents, in order."""
    opened = _open(unit.path, unit.out_rel)
    if isinstance(opened, str):
        yield Skipped(unit.path, opened)
        return
    yield from _rows(opened, fields, unit.path, 0)


def _rows(opened: Opened, fields: Fields, where: str, start: int) -> Iterator[Document | Skipped]:
    part, batches = opened
    plan = columnar.column_plan(part.schema, fields)
    if isinstance(plan, str):
        yield Skipped(where, plan)
        return
    yield from columnar.read_rows(batches, part, plan, fields, where, start)


def _open(path: str, out_rel: str) -> Opened | str:
    """The part and batches of an Arrow input, or why it cannot be read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        return os_reason(exc)
    flavour = _flavour(head)
    if flavour is None:
        return f"{sniff(head)}, not an Arrow IPC file or stream"
    try:
        schema, batches = _reader(flavour, path)
    except columnar.arrow_errors() as exc:
        return f"cannot read {KINDS[flavour]}: {exc}"
    options = _Ipc(flavour, _codec(path, flavour))
    return Part(path, out_rel, KINDS[flavour], schema, options), batches


def _flavour(head: bytes) -> str | None:
    """What the first bytes say: an IPC file, Feather v1, a stream, or (None) something else."""
    if head.startswith(b"FEA1"):
        return FEATHER1
    if head.startswith(b"ARROW1"):
        return FILE
    label = sniff(head)
    return STREAM if label is None or label == "Arrow IPC stream" else None


def _reader(flavour: str, path: str) -> tuple[Any, Iterator[Any]]:
    """The schema and the (validated) batches of an Arrow input."""
    import pyarrow as pa

    if flavour == FEATHER1:
        table = _feather1_table(path)
        return table.schema, iter(table.to_batches())
    if flavour == FILE:
        reader = pa.ipc.open_file(pa.memory_map(path))
        batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        return reader.schema, map(_valid, batches)
    stream = pa.ipc.open_stream(pa.memory_map(path))
    return stream.schema, map(_valid, stream)


def _valid(batch: Any) -> Any:
    batch.validate(full=True)
    return batch


def _feather1_table(path: str) -> Any:
    import pyarrow.feather as feather

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # reading what exists is the job
        return feather.read_table(path)


def _codec(path: str, flavour: str) -> str | None:
    """The body compression of the input's first record batch (None: uncompressed)."""
    import pyarrow as pa

    if flavour == FEATHER1:
        return None
    try:
        with open(path, "rb") as fh:
            fh.seek(FILE_MAGIC_BYTES if flavour == FILE else 0)
            for message in pa.ipc.MessageReader.open_stream(fh):
                if message.type == "record batch":
                    return _body_codec(message.metadata.to_pybytes())
    except columnar.arrow_errors():
        return None  # unknown: the reader names what is wrong with the file
    except (struct.error, IndexError):
        return None  # a message pyarrow read but this reading of it cannot: write uncompressed
    return None


def _body_codec(meta: bytes) -> str | None:
    """The codec in a record batch message's flatbuffer (``Message.header.compression``)."""
    header = _field(meta, _target(meta, 0), MESSAGE_HEADER)
    if header is None:
        return None
    compression = _field(meta, _target(meta, header), BATCH_COMPRESSION)
    if compression is None:
        return None
    codec = _field(meta, _target(meta, compression), 0)
    return IPC_CODECS[meta[codec] if codec is not None else 0]


def _target(buf: bytes, at: int) -> int:
    """Where the flatbuffer offset stored at ``at`` points."""
    return at + int(struct.unpack_from("<I", buf, at)[0])


def _field(buf: bytes, table: int, index: int) -> int | None:
    """Where field ``index`` of the flatbuffer table at ``table`` lies (None: absent)."""
    vtable = table - int(struct.unpack_from("<i", buf, table)[0])
    slot = 4 + 2 * index
    if slot >= struct.unpack_from("<H", buf, vtable)[0]:
        return None
    offset = int(struct.unpack_from("<H", buf, vtable + slot)[0])
    return table + offset if offset else None


# --- files: writing -------------------------------------------------------------------------


class _IpcWriter:
    """One output IPC file or stream with the input's schema and compression."""

    def __init__(self, path: Path, part: Part) -> None:
        import pyarrow as pa

        path.parent.mkdir(parents=True, exist_ok=True)
        options = pa.ipc.IpcWriteOptions(compression=part.options.codec)
        new = pa.ipc.new_file if part.options.flavour == FILE else pa.ipc.new_stream
        self._file = pa.OSFile(str(path), "wb")
        self._writer = new(self._file, part.schema, options=options)

    def write(self, batch: Any) -> None:
        self._writer.write_batch(batch)

    def close(self) -> None:
        try:
            self._writer.close()
        finally:
            self._file.close()


class _Feather1Writer:
    """One output Feather v1 file: the format has no stream, so it is written whole at close."""

    def __init__(self, path: Path, part: Part) -> None:
        self._path = path
        self._schema = part.schema
        self._batches: list[Any] = []

    def write(self, batch: Any) -> None:
        self._batches.append(batch)

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.feather as feather

        table = pa.Table.from_batches(self._batches, schema=self._schema)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # written back as it came
            feather.write_feather(table, str(self._path), version=1)


def _writer(path: Path, part: Part) -> columnar.BatchWriter:
    if part.options.flavour == FEATHER1:
        return _Feather1Writer(path, part)
    return _IpcWriter(path, part)


def _batches(part: Part) -> Iterator[Any]:
    """A part's batches, read again."""
    opened = _open(part.path, part.out_rel)
    if isinstance(opened, str):
        raise InputError(f"{part.path}: cannot read again to write: {opened}")
    return opened[1]


def _part_of(unit: Unit) -> Part | None:
    opened = _open(unit.path, unit.out_rel)
    return None if isinstance(opened, str) else opened[0]


WRITING = columnar.Writing(_writer, _batches)


def sink(unit: Unit, out_dir: Path) -> Sink:
    return columnar.FileSink(unit, out_dir, WRITING, _part_of)


FORMAT = Format("arrow", read, sink)


# --- Hugging Face datasets ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Split:
    """One ``save_to_disk`` directory: ``name`` None for a Dataset, else a DatasetDict split."""

    name: str | None
    dir: str
    files: tuple[str, ...]
    state: dict[str, Any]


def is_dataset_dir(path: str) -> bool:
    """Whether a directory is a Hugging Face ``save_to_disk`` output (Dataset or DatasetDict)."""
    if os.path.isfile(os.path.join(path, DICT_JSON)):
        return True
    return os.path.isfile(os.path.join(path, STATE_JSON)) and os.path.isfile(
        os.path.join(path, INFO_JSON)
    )


def read_dataset(unit: Unit, fields: Fields) -> Iterator[Document | Skipped]:
    """The rows of a dataset's splits, shard by shard, as documents."""
    try:
        splits = _layout(unit.path)
    except InputError as exc:
        yield Skipped(unit.path, str(exc))
        return
    for split in splits:
        yield from _split_rows(unit, split, fields)


def _split_rows(unit: Unit, split: _Split, fields: Fields) -> Iterator[Document | Skipped]:
    start = 0
    for name in split.files:
        path = os.path.join(split.dir, name)
        opened = _open(path, _shard_rel(unit, split, name))
        if isinstance(opened, str):
            yield Skipped(path, opened)
            return
        yield from _rows(opened, fields, split.dir, start)
        rows = opened[0].rows
        if rows is None:
            return  # no text, or a broken shard: what follows has no known row numbers
        start += rows


def _shard_rel(unit: Unit, split: _Split, name: str) -> str:
    return posixpath.join(_split_rel(unit, split), name)


def _split_rel(unit: Unit, split: _Split) -> str:
    return unit.out_rel if split.name is None else posixpath.join(unit.out_rel, split.name)


def _layout(path: str) -> list[_Split]:
    """The splits of a dataset directory (one, unnamed, for a Dataset); ``InputError`` says
    what is wrong with its JSON files."""
    if not os.path.isfile(os.path.join(path, DICT_JSON)):
        return [_split(path, None)]
    splits = _json(os.path.join(path, DICT_JSON), DICT_JSON).get("splits")
    if not isinstance(splits, list) or not splits or not all(map(_plain_name, splits)):
        raise InputError(f"{DICT_JSON} lists no splits (a list of directory names)")
    return [_split(path, name) for name in splits]


def _split(path: str, name: str | None) -> _Split:
    where = (path.rstrip("/") or path) if name is None else os.path.join(path, name)
    label = STATE_JSON if name is None else f"{name}/{STATE_JSON}"
    state = _json(os.path.join(where, STATE_JSON), label)
    entries = state.get("_data_files")
    entries = entries if isinstance(entries, list) else []
    files = [e.get("filename") for e in entries if isinstance(e, dict)]
    if not files or len(files) != len(entries):
        raise InputError(f"{label} lists no data files (_data_files)")
    outside = next((f for f in files if not _plain_name(f)), None)
    if outside is not None:
        raise InputError(f"{label} names a data file outside its directory: {outside!r}")
    return _Split(name, where, tuple(map(str, files)), state)


def _json(path: str, label: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            value = orjson.loads(fh.read())
    except OSError as exc:
        raise InputError(f"unreadable {label}: {os_reason(exc)}") from exc
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{label} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InputError(f"{label} is not a JSON object")
    return value


def _plain_name(name: object) -> bool:
    """A file or directory name that stays inside its directory."""
    return isinstance(name, str) and name not in ("", ".", "..") and not set("/\\") & set(name)


class _DatasetSink:
    """Routes rows to the shards of the same name on each side; at ``close`` makes each side
    written (and clean always) a loadable dataset: every split, its JSON files."""

    def __init__(self, unit: Unit, out_dir: Path) -> None:
        self._unit = unit
        self._out_dir = out_dir
        self._router = columnar.RowRouter(out_dir, WRITING)

    def write(self, doc: Document, quarantined: bool) -> None:
        self._router.write(doc, quarantined)

    def close(self) -> None:
        self._router.close()
        try:
            splits = _layout(self._unit.path)
        except InputError:
            return  # unreadable: the reader listed it as skipped, and nothing can be written
        sides = {CLEAN} | {side for side, _ in self._router.written}
        try:
            for side in sorted(sides):
                self._finish(side, splits)
        except OSError as exc:
            raise InputError(f"{self._unit.path}: cannot write: {os_reason(exc)}") from exc

    def _finish(self, side: str, splits: list[_Split]) -> None:
        root = self._out_dir / side / self._unit.out_rel
        for split in splits:
            files = self._files(side, split) or self._empty(side, split)
            if files:
                self._describe(root / (split.name or ""), split, side, files)
        if splits[0].name is not None:
            copy_file(os.path.join(self._unit.path, DICT_JSON), root / DICT_JSON)

    def _files(self, side: str, split: _Split) -> list[str]:
        """The shards of a split written on a side, in order."""
        rel = _split_rel(self._unit, split)
        written = (part.out_rel for s, part in self._router.written if s == side)
        return [posixpath.basename(p) for p in written if posixpath.dirname(p) == rel]

    def _empty(self, side: str, split: _Split) -> list[str]:
        """An empty first shard, with the split's schema (none when it cannot be read)."""
        name = split.files[0]
        opened = _open(os.path.join(split.dir, name), _shard_rel(self._unit, split, name))
        if isinstance(opened, str):
            return []
        part = opened[0]
        WRITING.writer(self._out_dir / side / part.out_rel, part).close()
        return [name]

    def _describe(self, where: Path, split: _Split, side: str, files: list[str]) -> None:
        """``dataset_info.json`` copied, ``state.json`` naming the shards written."""
        info = os.path.join(split.dir, INFO_JSON)
        if os.path.isfile(info):
            copy_file(info, where / INFO_JSON)
        seed = f"{split.state.get('_fingerprint')}|{side}|{self._router.decisions()}"
        state = dict(split.state, _data_files=[{"filename": name} for name in files])
        state["_fingerprint"] = hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()
        data = orjson.dumps(state, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        write_file(os.fspath(where / STATE_JSON), data)


def dataset_sink(unit: Unit, out_dir: Path) -> Sink:
    return _DatasetSink(unit, out_dir)


DATASET_FORMAT = Format("hf-dataset", read_dataset, dataset_sink)
