"""Building outputs for ledger tests, and altering a ledger behind its back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, create_engine, select, text, update

from distillguard.model import NewOutput

T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def new_output(i: int, **overrides: Any) -> NewOutput:
    """The i-th distinct test output; keyword arguments override its fields."""
    fields: dict[str, Any] = {
        "vendor": "anthropic",
        "model": "claude-sonnet-4",
        "text": f"def answer_{i}(x):\n    return x * {i}  # output {i}\n",
        "tool": "claude-code",
        "actor": "ada",
        "team": "ml",
        "created_at": T0 + timedelta(seconds=i),
    }
    fields.update(overrides)
    return NewOutput(**fields)


def raw_sql(url: str, *statements: str, **params: Any) -> None:
    """Run SQL against the ledger's database directly, as a tamperer would."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), params)
    finally:
        engine.dispose()


def rows_of(url: str, table: Table, **where: Any) -> list[dict[str, Any]]:
    """The rows of ``table`` whose columns equal ``where``, read behind the ledger's back."""
    query = select(table).where(*(table.c[name] == value for name, value in where.items()))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]
    finally:
        engine.dispose()


def write_rows(url: str, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` directly, as a tamperer would."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(table.insert(), rows)
    finally:
        engine.dispose()


def change_rows(url: str, table: Table, where: dict[str, Any], **values: Any) -> None:
    """Update the rows of ``table`` matching ``where`` directly, as a tamperer would."""
    match = (table.c[name] == value for name, value in where.items())
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(update(table).where(*match).values(**values))
    finally:
        engine.dispose()
