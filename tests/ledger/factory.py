"""Building outputs for ledger tests, and altering a ledger behind its back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

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
