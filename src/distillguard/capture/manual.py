"""Outputs recorded by hand: JSON Lines, one output per line.

A line is ``{"text": ..., "vendor": ..., "model": ..., "tool"?, "actor"?, "team"?, "session"?,
"purpose"?, "request"?, "source_id"?, "message_id"?, "created_at"?}``; ``text``, ``vendor`` and
``model`` are required strings, the rest optional strings (or null), ``created_at`` ISO 8601
(UTC when it names no offset). Unknown keys are ignored, blank lines skipped. A line that cannot
be used becomes a :class:`BadLine` with the reason; its neighbours are still recorded. So does a
line the ledger refuses (:func:`record_jsonl`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from distillguard.errors import InputError
from distillguard.ledger import Ledger
from distillguard.model import NewOutput

REQUIRED = ("text", "vendor", "model")
OPTIONAL = (
    "tool", "actor", "team", "session", "purpose", "request", "source_id", "message_id",
)  # fmt: skip
#: Lines per ledger transaction (one batch of ``Ledger.record_many``).
CHUNK = 10_000


@dataclass(frozen=True)
class BadLine:
    """A line that was not recorded: ``where`` is ``"source:lineno"`` (1-based)."""

    where: str
    reason: str


@dataclass(frozen=True)
class Line:
    """A usable line: ``where`` it is (``"source:lineno"``) and the output it describes."""

    where: str
    output: NewOutput


@dataclass
class Recording:
    """What recording a JSON Lines file did: new and known outputs, and the lines skipped
    (unusable, or refused by the ledger), each with its reason."""

    created: int = 0
    known: int = 0
    bad: list[BadLine] = field(default_factory=list)


def parse_jsonl(lines: Iterable[bytes], source: str) -> Iterator[NewOutput | BadLine]:
    """One NewOutput per usable line, one BadLine per unusable one, in order."""
    for item in read_jsonl(lines, source):
        yield item.output if isinstance(item, Line) else item


def read_jsonl(lines: Iterable[bytes], source: str) -> Iterator[Line | BadLine]:
    """One Line per usable line, one BadLine per unusable one, in order."""
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            yield Line(where, output_from_fields(_decode_line(raw, first=lineno == 1)))
        except InputError as exc:
            yield BadLine(where, str(exc))


def record_jsonl(
    ledger: Ledger,
    items: Iterable[Line | BadLine],
    form: Callable[[NewOutput], NewOutput] | None = None,
) -> Recording:
    """Record every usable line (as ``form`` makes it: privacy mode), :data:`CHUNK` at a time;
    a line the ledger refuses is found by halving its chunk and skipped, with the reason, and
    every other line is recorded."""
    done = Recording()
    chunk: list[Line] = []
    for item in items:
        if isinstance(item, BadLine):
            done.bad.append(item)
            continue
        chunk.append(Line(item.where, form(item.output)) if form else item)
        if len(chunk) >= CHUNK:
            _record(ledger, chunk, done)
            chunk = []
    if chunk:
        _record(ledger, chunk, done)
    return done


def _record(ledger: Ledger, lines: list[Line], done: Recording) -> None:
    try:
        results = ledger.record_many((line.output for line in lines), batch_size=CHUNK)
    except InputError as exc:  # a line the ledger refuses: halve until it is found
        if len(lines) == 1:
            done.bad.append(BadLine(lines[0].where, str(exc)))
            return
        half = len(lines) // 2
        _record(ledger, lines[:half], done)
        _record(ledger, lines[half:], done)
        return
    created = sum(r.created for r in results)
    done.created += created
    done.known += len(results) - created


def _decode_line(raw: bytes, *, first: bool) -> Mapping[str, Any]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"invalid UTF-8 at byte offset {exc.start}") from None
    if first:
        line = line.removeprefix("\ufeff")
    try:
        fields = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise InputError("malformed JSON: nested too deeply") from None
    if not isinstance(fields, dict):
        raise InputError(f"expected a JSON object, got {_json_type(fields)}")
    return fields


def output_from_fields(
    fields: Mapping[str, Any], default_created: datetime | None = None
) -> NewOutput:
    """The NewOutput described by ``fields`` (a decoded JSON object); InputError if invalid."""
    values = {name: _string(fields, name, required=True) for name in REQUIRED}
    values.update({name: _string(fields, name, required=False) for name in OPTIONAL})
    for name in ("vendor", "model"):
        if not values[name].strip():
            raise InputError(f"{name!r} is empty")
    if not values["text"]:
        raise InputError("'text' is empty: nothing to record")
    created = _created_at(fields.get("created_at"))
    return NewOutput(**values, created_at=created or default_created)


def _string(fields: Mapping[str, Any], name: str, *, required: bool) -> Any:
    value = fields.get(name)
    if value is None:
        if required:
            raise InputError(f"missing required field {name!r}")
        return None
    if not isinstance(value, str):
        raise InputError(f"{name!r} must be a string, got {_json_type(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        surrogate = f"\\u{ord(value[exc.start]):04x}"
        message = f"{name!r} holds a lone surrogate ({surrogate}), not valid Unicode"
        raise InputError(message) from None
    return value


def _created_at(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"'created_at' must be an ISO 8601 string, got {_json_type(value)}")
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except ValueError:
        raise InputError(f"'created_at' is not an ISO 8601 date-time: {value!r}") from None
    except OverflowError:  # in range as written, out of range in UTC (0001-01-01T00:00+01:00)
        raise InputError(f"'created_at' is out of range in UTC: {value!r}") from None


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__
