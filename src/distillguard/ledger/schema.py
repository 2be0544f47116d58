"""The ledger's tables as they are now, for queries.

Tables are created and changed only by named steps in :mod:`distillguard.ledger.migrations`;
a change here needs a new step there (a test checks that a migrated database matches).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    false,
)

metadata = MetaData()

#: Token counts of an output (the gateway's usage fields).
TOKEN_COLUMNS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
)  # fmt: skip

#: Flags of an output: its usage was estimated; its text is a raw body no parser read.
FLAG_COLUMNS = ("usage_estimated", "unparsed")

#: ``INTEGER PRIMARY KEY`` on SQLite (the rowid), ``BIGINT`` elsewhere.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


outputs = Table(
    "outputs",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=False),
    Column("id", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("vendor", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("tool", Text),
    Column("actor", Text),
    Column("team", Text),
    Column("session", Text),
    Column("purpose", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("text", Text),
    Column("request", Text),
    Column("source_id", Text),
    Column("message_id", Text),
    Column("fingerprints", LargeBinary),
    Column("fp_config", Text),
    Column("prev_hash", Text, nullable=False),
    Column("chain_hash", Text, nullable=False),
    *(Column(name, BigInteger) for name in TOKEN_COLUMNS),
    Column("cost_usd", Double),
    *(Column(name, Text) for name in ("price_version", "upstream", "key_id")),
    *(Column(name, Boolean, nullable=False, server_default=false()) for name in FLAG_COLUMNS),
    Index("ux_outputs_id", "id", unique=True),
    Index("ux_outputs_idempotency_key", "idempotency_key", unique=True),
    Index("ix_outputs_team_created", "team", "created_at"),
    Index("ix_outputs_key_created", "key_id", "created_at"),
    Index("ix_outputs_fp_config", "fp_config"),
)

gateway_keys = Table(
    "gateway_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("key_hash", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("team", Text, nullable=False),
    Column("approved_by", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Index("ux_gateway_keys_hash", "key_hash", unique=True),
)

journal = Table(
    "journal",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=False),
    Column("table_name", Text, nullable=False),
    Column("row_id", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("chain_hash", Text, nullable=False),
    Index("ix_journal_row", "table_name", "row_id"),
)

migrations = Table(
    "_migrations",
    metadata,
    Column("name", Text, primary_key=True),
    Column("applied_at", UTCDateTime, nullable=False),
)

#: Columns holding an output's content, left out by ``iter_outputs(with_text=False)``.
HEAVY_COLUMNS = ("text", "request")
