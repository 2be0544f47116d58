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
    "source_id", "message_id", "fp_config",
)  # fmt: skip
OUTPUT_FIELDS = tuple(f.name for f in dataclasses.fields(Output))


def prepare(new: NewOutput, now: datetime, *, allow_nul: bool = True) -> dict[str, Any]:
    """The row of ``new``, less ``seq``, ``prev_hash`` and ``chain_hash``; InputError if invalid."""
    _check_strings(new, allow_nul)
    try:
        key = new.idempotency_key()
    except ValueError as exc:
        raise InputError(f"cannot record an output from {new.vendor}/{new.model}: {exc}") from exc
    row = {name: getattr(new, name) for name in STR_FIELDS}
    row.update(
        id=chain.output_id(key),
        idempotency_key=key,
        content_hash=new.content_hash(),
        created_at=as_utc(new.created_at or now),
        fingerprints=None if new.fingerprints is None else bytes(new.fingerprints),
    )
    return row


def _check_strings(new: NewOutput, allow_nul: bool) -> None:
    for name in ("vendor", "model"):
        value = getattr(new, name)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"an output needs a non-empty {name}")
    for name in STR_FIELDS:
        value = getattr(new, name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InputError(f"{name} must be a string, not {type(value).__name__}")
        _check_text(name, value, allow_nul)


def _check_text(name: str, value: str, allow_nul: bool) -> None:
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
    return Output(**values)
