"""Schema migrations: append-only named steps, each applied once, recorded in ``_migrations``.

Never edit or reorder a step that has shipped; add a new one at the end. Each step spells out
its own DDL (not the current :mod:`schema`), so an old database and a new one end up alike.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Double,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    false,
    inspect,
    select,
)
from sqlalchemy.schema import CreateIndex

from distillguard.ledger import journal, reading, schema

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


def _m002_gateway(conn: Connection) -> None:
    """Usage fields on outputs (tokens, cost, price table version, upstream, key) and the
    gateway's keys, each carrying its grant (who approved it, until when)."""
    md = MetaData()
    added = [
        *(Column(name, BigInteger) for name in _TOKENS),
        Column("cost_usd", Double),
        *(Column(name, Text) for name in ("price_version", "upstream", "key_id")),
    ]
    quote = conn.dialect.identifier_preparer.quote
    for column in added:
        kind = column.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE outputs ADD COLUMN {quote(column.name)} {kind}")
    outputs = Table("outputs", md, *(Column(n, Text) for n in ("team", "key_id", "created_at")))
    conn.execute(
        CreateIndex(Index("ix_outputs_team_created", outputs.c.team, outputs.c.created_at))
    )
    conn.execute(
        CreateIndex(Index("ix_outputs_key_created", outputs.c.key_id, outputs.c.created_at))
    )
    Table(
        "gateway_keys",
        md,
        Column("id", Text, primary_key=True),
        *(Column(n, Text, nullable=False) for n in ("key_hash", "actor", "team", "approved_by")),
        Column("created_at", schema.UTCDateTime, nullable=False),
        Column("expires_at", schema.UTCDateTime),
        Column("revoked_at", schema.UTCDateTime),
        Index("ux_gateway_keys_hash", "key_hash", unique=True),
    ).create(conn)


_TOKENS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
)  # fmt: skip


def _m003_edits(conn: Connection) -> None:
    """File edits agents made (hooks, transcript imports), each tied to its output's id."""
    Table(
        "edits",
        MetaData(),
        Column("id", Text, primary_key=True),
        Column("idempotency_key", Text, nullable=False),
        Column("output_id", Text, nullable=False),
        *(Column(name, Text, nullable=False) for name in ("vendor", "model", "tool", "path")),
        *(Column(name, Text) for name in ("tool_name", "call_id", "session", "message_id")),
        *(Column(name, Text) for name in ("added", "removed", "source")),
        Column("created_at", schema.UTCDateTime, nullable=False),
        Index("ux_edits_key", "idempotency_key", unique=True),
        Index("ix_edits_output", "output_id"),
        Index("ix_edits_path", "path"),
    ).create(conn)


def _m004_fp_config_index(conn: Connection) -> None:
    """An index on the fingerprint settings of outputs kept without text, so finding which
    settings a ledger in privacy mode uses reads the index, not the table."""
    outputs = Table("outputs", MetaData(), Column("fp_config", Text))
    conn.execute(CreateIndex(Index("ix_outputs_fp_config", outputs.c.fp_config)))


def _m005_journal(conn: Connection) -> None:
    """The journal, the chain of every write to edits and gateway keys (see
    :mod:`distillguard.ledger.journal`), with an entry for each edit and key already there,
    so they are tamper-evident from the upgrade on. A row whose values cannot be decoded is
    left out, for ``ledger verify`` to report."""
    md = MetaData()
    table = Table(
        "journal",
        md,
        Column("seq", schema.SeqType, primary_key=True, autoincrement=False),
        *(Column(name, Text, nullable=False) for name in ("table_name", "row_id", "state")),
        Column("created_at", schema.UTCDateTime, nullable=False),
        *(Column(name, Text, nullable=False) for name in ("prev_hash", "chain_hash")),
        Index("ix_journal_row", "table_name", "row_id"),
    )
    table.create(conn)
    for existing in (_edits_as_of_003(md), _keys_as_of_002(md)):
        for page in reading.pages(lambda: nullcontext(conn), existing, existing.c.id, 5000):
            journal.append(conn, existing.name, reading.readable(page), table)


def _edits_as_of_003(md: MetaData) -> Table:
    return Table(
        "edits",
        md,
        *(Column(name, Text) for name in ("id", "idempotency_key", "output_id", "vendor")),
        *(Column(name, Text) for name in ("model", "tool", "path", "tool_name", "call_id")),
        *(Column(name, Text) for name in ("session", "message_id", "added", "removed")),
        Column("source", Text),
        Column("created_at", schema.UTCDateTime),
    )


def _keys_as_of_002(md: MetaData) -> Table:
    return Table(
        "gateway_keys",
        md,
        *(Column(n, Text) for n in ("id", "key_hash", "actor", "team", "approved_by")),
        *(Column(n, schema.UTCDateTime) for n in ("created_at", "expires_at", "revoked_at")),
    )


def _m006_output_flags(conn: Connection) -> None:
    """Two flags on outputs, false for every output already there: ``usage_estimated`` (the
    token counts were estimated from the text, the vendor sent none) and ``unparsed`` (the
    answer came in a form no parser reads; its text is the raw body)."""
    quote = conn.dialect.identifier_preparer.quote
    kind = Boolean().compile(dialect=conn.dialect)
    no = false().compile(dialect=conn.dialect)
    for name in ("usage_estimated", "unparsed"):
        conn.exec_driver_sql(
            f"ALTER TABLE outputs ADD COLUMN {quote(name)} {kind} NOT NULL DEFAULT {no}"
        )


STEPS: tuple[Step, ...] = (
    ("001_outputs", _m001_outputs),
    ("002_gateway", _m002_gateway),
    ("003_edits", _m003_edits),
    ("004_fp_config_index", _m004_fp_config_index),
    ("005_journal", _m005_journal),
    ("006_output_flags", _m006_output_flags),
)


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
