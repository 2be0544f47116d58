"""The journal: a second hash chain, committing to every write to the tables beside outputs.

Edits and gateway keys (each carrying its grant) are written outside the outputs' chain, and a
key changes in place when it is revoked, so their rows cannot carry links of their own. Every
write to them through the Ledger appends a journal entry instead: the table, the row's id and
the digest of the row's whole new state (:func:`state_digest`). Entries form a hash chain like
the outputs' (:mod:`distillguard.ledger.chain`): ``chain_hash = sha256(prev_hash + canonical
JSON of seq, table_name, row_id, state, created_at)``, from :data:`GENESIS`.

Verifying holds each journaled table against the chain: a row must have the state its latest
entry names (an un-revoked key, a changed team or path do not); a row without an entry was
written behind the ledger's back (a key with a secret the writer knows); an entry whose row is
gone marks a removal. A row's state is the canonical JSON of its non-NULL columns, so a column
added later (nullable, without a default) leaves the states of older rows as they were.

Functions of an open connection, called inside the writer's transaction of the write they
journal; only the ledger's modules call them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, exists, func, select

from distillguard.ledger import chain
from distillguard.ledger.schema import as_utc, journal

GENESIS = chain.PREFIX + hashlib.sha256(b"distillguard journal genesis v1").hexdigest()
FIELDS = ("seq", "table_name", "row_id", "state", "created_at")
KEY_CHUNK = 1000


def state_digest(row: chain.Record) -> str:
    """The digest of a row's state: the canonical JSON of its non-NULL columns."""
    doc = {str(name): _plain(value) for name, value in row.items() if value is not None}
    return chain.digest(chain.ENCODER.encode(doc).encode("utf-8"))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return chain.iso_utc(as_utc(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return chain.digest(bytes(value))
    return value


def link(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """The chain hash of a journal entry following ``prev_hash``."""
    doc = {name: entry[name] for name in FIELDS}
    doc["created_at"] = chain.iso_utc(doc["created_at"])
    data = prev_hash.encode("utf-8") + chain.ENCODER.encode(doc).encode("utf-8")
    return chain.PREFIX + hashlib.sha256(data).hexdigest()


def append(
    conn: Connection, table_name: str, rows: Iterable[chain.Record], table: Table = journal
) -> None:
    """Journal the new state of ``rows`` (each with every column, an ``id`` among them)."""
    seq, prev = last(conn, table) or (0, GENESIS)
    now = datetime.now(UTC)
    entries = []
    for row in rows:
        seq += 1
        entry = {"seq": seq, "table_name": table_name, "row_id": row["id"], "created_at": now}
        entry.update(state=state_digest(row), prev_hash=prev)
        prev = entry["chain_hash"] = link(prev, entry)
        entries.append(entry)
    if entries:
        conn.execute(table.insert(), entries)


def last(conn: Connection, table: Table = journal) -> tuple[int, str] | None:
    """``(seq, chain_hash)`` of the last entry; None when the journal is empty."""
    query = select(table.c.seq, table.c.chain_hash).order_by(table.c.seq.desc()).limit(1)
    row = conn.execute(query).first()
    return None if row is None else (int(row.seq), str(row.chain_hash))


def latest(conn: Connection, table_name: str, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The ``(seq, state)`` of the latest entry of each of ``ids`` that has one."""
    query = (
        select(journal.c.row_id, journal.c.seq, journal.c.state)
        .where(journal.c.table_name == table_name)
        .where(journal.c.row_id.in_(bindparam("ids", expanding=True)))
        .order_by(journal.c.seq)
    )
    unique = list(dict.fromkeys(ids))
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(unique), KEY_CHUNK):
        for row_id, seq, state in conn.execute(query, {"ids": unique[start : start + KEY_CHUNK]}):
            found[row_id] = (int(seq), str(state))
    return found


def matching(conn: Connection, table_name: str, rows: Sequence[chain.Record]) -> list[chain.Record]:
    """The rows whose state is the one their latest journal entry names."""
    states = latest(conn, table_name, [row["id"] for row in rows])
    return [row for row in rows if _state_of(states, row["id"]) == state_digest(row)]


def _state_of(states: Mapping[str, tuple[int, str]], row_id: str) -> str | None:
    entry = states.get(row_id)
    return None if entry is None else entry[1]


def check_rows(
    table_name: str,
    rows: Iterable[chain.Record | chain.Unreadable],
    states: Mapping[str, tuple[int, str]],
    problems: chain.Problems,
) -> None:
    """Report each row that is not in the state its latest entry (in ``states``) names."""
    for row in rows:
        if isinstance(row, chain.Unreadable):
            where = f"{table_name} {row.key}"
            problems.add(f"{where}: altered (a stored value cannot be read: {row.error})")
            continue
        where, entry = f"{table_name} {row['id']}", states.get(row["id"])
        if entry is None:
            problems.add(f"{where}: not in the journal (written behind the ledger's back)")
        elif state_digest(row) != entry[1]:
            problems.add(f"{where}: altered (it does not match journal seq {entry[0]})")


def check_removed(conn: Connection, table: Table, problems: chain.Problems) -> None:
    """Report each journaled row of ``table`` that is gone."""
    present = exists().where(table.c.id == journal.c.row_id)
    query = (
        select(journal.c.row_id, func.max(journal.c.seq))
        .where(journal.c.table_name == table.name, ~present)
        .group_by(journal.c.row_id)
        .order_by(func.max(journal.c.seq))
    )
    for row_id, seq in conn.execute(query):
        problems.add(f"{table.name} {row_id}: removed (it was journaled at journal seq {seq})")


class Verifier(chain.ChainVerifier):
    """Checks the journal's chain."""

    GENESIS = GENESIS
    NAME = "journal"
    LABEL = "journal seq"

    def where(self, row: chain.Record) -> str:
        return f"journal seq {row['seq']} ({row['table_name']} {row['row_id']})"

    def link(self, prev_hash: str, row: chain.Record) -> str:
        return link(prev_hash, row)
