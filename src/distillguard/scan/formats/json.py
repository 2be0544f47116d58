"""JSON files (``.json``, optionally compressed): an array of records, one record, or text.

- A top-level array holding objects: every object is a record (see :mod:`records` for its text),
  named ``PATH:i`` (0-based index) or by its id field; an item that is not an object is skipped
  with that reason. Written back as JSON arrays of the records on each side, one record a line,
  each re-serialized by orjson (values and key order kept, whitespace not); an array whose
  every record is clean is copied as it is.
- A top-level object with a text field or a chat shape: one record named ``PATH``, written back
  byte for byte.
- Anything else (a config file, JSON with comments, a bare value): the file is a plain
  document, as :mod:`plain` reads it.

A JSON document is parsed whole, so files over ``MAX_BYTES`` (on disk or decompressed) are
skipped: JSONL is the format for large record sets. Decompression stops at that size and at the
ratio of ``Limits``; a record whose text is over ``Limits.document_bytes`` is skipped (see
:mod:`records`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from distillguard.errors import InputError
from distillguard.scan.formats import plain
from distillguard.scan.formats.base import (
    CLEAN,
    Document,
    Fields,
    Format,
    Limits,
    Skipped,
    Unit,
    copy_file,
    json_type,
    open_for_write,
    os_reason,
    side_of,
)
from distillguard.scan.formats.codecs import bomb, codec_of, compress, decompress
from distillguard.scan.formats.records import record_document

MAX_BYTES = 1 << 30


class Item(NamedTuple):
    """A record of a JSON array as its sink needs it."""

    position: int
    value: Any
    total: int


def read(unit: Unit, fields: Fields) -> Iterator[Document | Skipped]:
    path = unit.path
    if unit.size > MAX_BYTES:
        yield Skipped(path, _too_large(unit.size))
        return
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        content = _content(path, data, fields.limits)
    except OSError as exc:
        yield Skipped(path, os_reason(exc))
        return
    except InputError as exc:
        yield Skipped(path, str(exc))
        return
    yield from _documents(unit, fields, data, content)


def _content(path: str, data: bytes, limits: Limits) -> bytes:
    """The file's bytes decompressed, within ``MAX_BYTES`` and the ratio cap (else
    ``InputError``)."""
    codec = codec_of(path)
    if len(data) > MAX_BYTES:
        raise InputError(_too_large(len(data)))
    if codec is None:
        return data
    budget = limits.inflated(len(data))
    content = decompress(codec, data, min(MAX_BYTES, budget))
    if content is not None:
        return content
    if budget < MAX_BYTES:
        raise InputError(bomb(codec, len(data), budget, limits))
    raise InputError(_too_large(None, codec))


def _too_large(size: int | None, codec: str | None = None) -> str:
    told = f"{size:,} bytes > {MAX_BYTES:,}" if size is not None else f"over {MAX_BYTES:,} bytes"
    inside = f" inside its {codec} compression" if codec else ""
    return f"JSON file too large to parse whole ({told}{inside}); use JSONL"


def _documents(
    unit: Unit, fields: Fields, data: bytes, content: bytes
) -> Iterator[Document | Skipped]:
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        value = None  # not JSON after all (comments, a template): read as text
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        yield from _array(unit.path, value, fields)
        return
    if isinstance(value, dict):
        found = record_document(unit.path, value, fields, data, len(content))
        if isinstance(found, Document):
            yield found
            return
    if len(content) > fields.limits.document_bytes:
        yield Skipped(unit.path, fields.limits.too_large(len(content), "file"))
        return
    yield plain.file_document(unit.path, data, content)  # the bytes already read


def _array(path: str, items: list[Any], fields: Fields) -> Iterator[Document | Skipped]:
    for i, item in enumerate(items):
        where = f"{path}:{i}"
        if not isinstance(item, dict):
            yield Skipped(where, f"array item is a JSON {json_type(item)}, not an object")
        else:
            yield record_document(where, item, fields, Item(i, item, len(items)))


class _JsonSink:
    """Whole files (plain or one record) go to their side as they are; array records are
    gathered per side and written as arrays at ``close``."""

    def __init__(self, unit: Unit, out_dir: Path) -> None:
        self._unit = unit
        self._out_dir = out_dir
        self._sides: dict[str, list[Any]] = {}
        self._clean_run = 0
        self._count = -1

    def write(self, doc: Document, quarantined: bool) -> None:
        if not isinstance(doc.raw, Item):
            self._whole_file(doc.raw, side_of(quarantined))
            return
        item: Item = doc.raw
        self._count = item.total
        if not quarantined and item.position == self._clean_run:
            self._clean_run += 1
        self._sides.setdefault(side_of(quarantined), []).append(item.value)

    def _whole_file(self, data: bytes, side: str) -> None:
        target = self._out_dir / side / self._unit.out_rel
        with open_for_write(target) as fh:
            fh.write(data)

    def close(self) -> None:
        if self._count >= 0 and self._clean_run == self._count:
            copy_file(self._unit.path, self._out_dir / CLEAN / self._unit.out_rel)
            return
        for side, values in self._sides.items():
            self._whole_file(_array_bytes(self._unit.out_rel, values), side)


def _array_bytes(name: str, values: list[Any]) -> bytes:
    body = b",\n".join(orjson.dumps(v) for v in values)
    return compress(name, b"[\n" + body + b"\n]\n")


def _sink(unit: Unit, out_dir: Path) -> _JsonSink:
    return _JsonSink(unit, out_dir)


FORMAT = Format("json", read, _sink, records=False)
