"""Schema migrations: append-only named steps, each applied once, recorded in ``_migrations``.

Never edit or reorder a step that has shipped; add a new one at the end. Each step spells out
its own DDL (not the current :mod:`schema`), so an old database and a new one end up alike.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Connection,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    inspect,
    select,
)

from distillguard.ledger import schema

Step = tuple[str, Callable[[Connection], None]]


def _m001_outputs(conn: Connection) -> None:
    """The outputs table: one row per output, linked by the hash chain."""
    md = MetaData()
    Table(
        "outputs",
        md,
        Column("seq", schema.SeqType, primary_key=True, autoincrement=False),
        Column("id", Text, nullable=False),
        Column("idempotency_key", Text, nullable=False),
        *(Column(name, Text, nullable=False) for name in ("vendor", "model")),
        *(Column(name, Text) for name in ("tool", "actor", "team", "session", "purpose")),
        Column("created_at", schema.UTCDateTime, nullable=False),
        Column("content_hash", Text, nullable=False),
        *(Column(name, Text) for name in ("text", "request", "source_id", "message_id")),
        Column("fingerprints", LargeBinary),
        Column("fp_config", Text),
        Column("prev_hash", Text, nullable=False),
        Column("chain_hash", Text, nullable=False),
        Index("ux_outputs_id", "id", unique=True),
        Index("ux_outputs_idempotency_key", "idempotency_key", unique=True),
    )
    md.create_all(conn)


STEPS: tuple[Step, ...] = (("001_outputs", _m001_outputs),)


def apply(conn: Connection, steps: tuple[Step, ...] = STEPS) -> list[str]:
    """Apply the steps not applied yet, in order, inside the caller's transaction."""
    schema.migrations.create(conn, checkfirst=True)
    done = set(conn.scalars(select(schema.migrations.c.name)))
    applied = []
    for name, step in steps:
        if name in done:
            continue
        step(conn)
        conn.execute(schema.migrations.insert().values(name=name, applied_at=datetime.now(UTC)))
        applied.append(name)
    return applied


def pending(conn: Connection, steps: tuple[Step, ...] = STEPS) -> list[str]:
    """Names of the steps not applied yet."""
    if not inspect(conn).has_table(schema.migrations.name):
        return [name for name, _ in steps]
    done = set(conn.scalars(select(schema.migrations.c.name)))
    return [name for name, _ in steps if name not in done]
