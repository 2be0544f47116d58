"""File edits an agent made: which file, with which tool call, the exact text written.

An edit belongs to the output (the model's answer) whose tool call made it: ``output_id`` is
the id that output has, or will have, in the ledger (it derives from the same idempotency key,
the vendor's message id), so a hook can record an edit before the gateway's record of the
answer lands, and a transcript import of the same call merges with both.

``added`` is what the model wrote (``Write.content``, ``Edit.new_string``, a patch's ``+``
lines); ``removed`` is the text it replaced (``Edit.old_string``, a patch's ``-`` and context
lines): the user's own text, kept as evidence, never attributed to the vendor.

Edits sit beside the outputs' hash chain, not in it: the output they came from is chained
(with the added text in it), and every edit written is journaled (its whole row, see
:mod:`distillguard.ledger.journal`), so ``ledger verify`` reports an edit altered, removed or
added behind the ledger's back. Functions of an open connection; only
:class:`distillguard.ledger.Ledger` calls them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Connection, Index, MetaData, Table, Text, bindparam, select

from distillguard.ledger import journal
from distillguard.ledger.schema import UTCDateTime

metadata = MetaData()

edits = Table(
    "edits",
    metadata,
    Column("id", Text, primary_key=True),
    Column("idempotency_key", Text, nullable=False),
    Column("output_id", Text, nullable=False),
    *(Column(name, Text, nullable=False) for name in ("vendor", "model", "tool", "path")),
    *(Column(name, Text) for name in ("tool_name", "call_id", "session", "message_id")),
    *(Column(name, Text) for name in ("added", "removed", "source")),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ux_edits_key", "idempotency_key", unique=True),
    Index("ix_edits_output", "output_id"),
    Index("ix_edits_path", "path"),
)
KEY_CHUNK = 1000


@dataclass(frozen=True)
class Edit:
    """One file touched by one tool call of one answer.

    ``tool`` is the agent (``claude-code``, ``codex``); ``tool_name`` its tool (``Write``,
    ``Edit``, ``MultiEdit``, ``apply_patch``); ``source`` who recorded it (``hook``,
    ``import``). One call that touches a file twice (a ``MultiEdit``) is one edit.
    """

    output_id: str
    vendor: str
    model: str
    tool: str
    path: str
    added: str | None
    removed: str | None = None
    tool_name: str | None = None
    call_id: str | None = None
    session: str | None = None
    message_id: str | None = None
    source: str | None = None
    created_at: datetime | None = None

    def idempotency_key(self) -> str:
        parts = [self.output_id, self.call_id or "", self.path]
        if not self.call_id:  # no call id: the content tells two edits apart
            parts += [self.added or "", self.removed or ""]
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        return "sha256:" + digest

    @property
    def id(self) -> str:
        return "edit_" + self.idempotency_key().removeprefix("sha256:")[:24]


_COLUMNS = tuple(f.name for f in fields(Edit))


def insert(conn: Connection, items: Sequence[Edit]) -> list[bool]:
    """Insert the edits not there yet; for each, whether it was new."""
    keys = [e.idempotency_key() for e in items]
    known = _known(conn, keys)
    now = datetime.now(UTC)
    rows, created = [], []
    for edit, key in zip(items, keys, strict=True):
        created.append(key not in known)
        if key in known:
            continue
        known.add(key)
        row: dict[str, Any] = {name: getattr(edit, name) for name in _COLUMNS}
        row.update(id=edit.id, idempotency_key=key, created_at=edit.created_at or now)
        rows.append(row)
    if rows:
        conn.execute(edits.insert(), rows)
        journal.append(conn, edits.name, rows)
    return created


def _known(conn: Connection, keys: list[str]) -> set[str]:
    query = select(edits.c.idempotency_key).where(
        edits.c.idempotency_key.in_(bindparam("keys", expanding=True))
    )
    unique = list(dict.fromkeys(keys))
    known: set[str] = set()
    for start in range(0, len(unique), KEY_CHUNK):
        known.update(conn.scalars(query, {"keys": unique[start : start + KEY_CHUNK]}))
    return known


def select_edits(
    conn: Connection, *, output_id: str | None = None, path: str | None = None
) -> list[Edit]:
    """Edits, oldest first, of one output and/or one path (every edit when neither)."""
    query = select(edits).order_by(edits.c.created_at, edits.c.id)
    if output_id is not None:
        query = query.where(edits.c.output_id == output_id)
    if path is not None:
        query = query.where(edits.c.path == path)
    return [_edit(row) for row in conn.execute(query).mappings()]


def _edit(row: Any) -> Edit:
    return Edit(**{name: row[name] for name in _COLUMNS})
