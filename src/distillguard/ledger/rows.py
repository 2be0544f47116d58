"""Converting between records (NewOutput, Output) and ledger rows, with input checks."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from distillguard.errors import InputError
from distillguard.ledger import chain
from distillguard.ledger.schema import as_utc
from distillguard.model import NewOutput, Output

STR_FIELDS = (
    "vendor", "model", "text", "tool", "actor", "team", "session", "purpose", "request",
    "source_id", "message_id", "fp_config", "price_version", "upstream", "key_id",
)  # fmt: skip
INT_FIELDS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
)  # fmt: skip
#: True/false fields of an output (a flag), stored NOT NULL.
FLAG_FIELDS = ("usage_estimated", "unparsed")
#: The largest count a BIGINT column holds.
MAX_COUNT = 2**63 - 1
OUTPUT_FIELDS = tuple(f.name for f in dataclasses.fields(Output))


def prepare(new: NewOutput, now: datetime, *, allow_nul: bool = True) -> dict[str, Any]:
    """The row of ``new``, less ``seq``, ``prev_hash`` and ``chain_hash``; InputError if invalid."""
    row = {name: getattr(new, name) for name in STR_FIELDS}
    _check_strings(row, allow_nul)
    for name in INT_FIELDS:
        row[name] = _count(name, getattr(new, name))
    row["cost_usd"] = _cost(new.cost_usd)
    for name in FLAG_FIELDS:
        row[name] = _flag(name, getattr(new, name))
    _check_kept(new)
    key = new.idempotency_key()
    row.update(
        id=chain.output_id(key),
        idempotency_key=key,
        content_hash=new.content_hash(),
        created_at=_created_at(new.created_at or now),
        fingerprints=None if new.fingerprints is None else bytes(new.fingerprints),
    )
    return row


def _count(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise InputError(f"{name} must be an integer from 0 to 2^63-1, not {value!r}")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false, not {value!r}")
    return value


def _created_at(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise InputError(f"created_at must be a datetime, not {type(value).__name__}")
    try:
        return as_utc(value)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise InputError(f"created_at {value.isoformat()} is out of range in UTC") from None


def _cost(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e12:
        raise InputError(f"cost_usd must be a non-negative number, not {value!r}")
    return float(value)


def _check_kept(new: NewOutput) -> None:
    """An output keeps its text, or (fingerprints-only) the hash of its text, its fingerprints
    and the settings that made them: so a text removed later is told from one never kept."""
    if new.fingerprints is not None and not isinstance(new.fingerprints, bytes | bytearray):
        raise InputError(f"fingerprints must be bytes, not {type(new.fingerprints).__name__}")
    where = f"an output from {new.vendor}/{new.model}"
    if new.text is not None:
        if new.fp_config is not None:
            raise InputError(
                f"{where} keeps its text or, fingerprints-only, its fingerprints and their "
                "settings (fp_config): not both"
            )
        return
    text_hash = new.text_hash
    if not isinstance(text_hash, str) or ":" not in text_hash:
        raise InputError(
            f"{where} without text needs text_hash naming its algorithm ('sha256:<hex>')"
        )
    if new.fingerprints is None or new.fp_config is None:
        raise InputError(
            f"{where} without text needs its fingerprints and fp_config (fingerprints-only mode)"
        )


def _check_strings(values: dict[str, Any], allow_nul: bool) -> None:
    for name in ("vendor", "model"):
        value = values[name]
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"an output needs a non-empty {name}")
    for name, value in values.items():
        if value is not None:
            _check_text(name, value, allow_nul)


def _check_text(name: str, value: Any, allow_nul: bool) -> None:
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, not {type(value).__name__}")
    if allow_nul and value.isascii():  # the common case, checked in C without a copy
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{name} is not valid Unicode: lone surrogate {value[exc.start]!r} at index {exc.start}"
        ) from None
    if not allow_nul and "\x00" in value:
        raise InputError(
            f"{name} contains a NUL character (\\x00) at index {value.index(chr(0))}, "
            "which PostgreSQL cannot store; remove it, or use a SQLite ledger"
        )


def to_output(row: chain.Record) -> Output:
    """The Output of a row; columns not selected (text, request) come back as None."""
    values: dict[str, Any] = {name: row.get(name) for name in OUTPUT_FIELDS}
    if values["fingerprints"] is not None:
        values["fingerprints"] = bytes(values["fingerprints"])
    for name in FLAG_FIELDS:
        values[name] = bool(values[name])  # None only when the column was not selected
    return Output(**values)
