"""Queries behind the gateway's part of the Ledger: keys with their grants, spend and usage.

Every write to a key is journaled (:mod:`distillguard.ledger.journal`), and a key whose row is
not in the state its journal entry names (revoked at creation, un-revoked, another team, or
inserted behind the ledger's back) is not served: the gateway treats it as unknown, and
``ledger verify`` reports it. Functions of an open connection; only
:class:`distillguard.ledger.Ledger` calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, case, func, or_, select, update

from distillguard.ledger import journal, reading
from distillguard.ledger.chain import Unreadable
from distillguard.ledger.schema import gateway_keys, outputs
from distillguard.model import GatewayKey, UsageRow

#: What ``usage`` can group by: the output column of each name.
USAGE_GROUPS = ("team", "actor", "vendor", "model", "tool", "upstream", "key_id")


def add_key(conn: Connection, key: GatewayKey) -> None:
    values = _key_values(key)
    conn.execute(gateway_keys.insert().values(**values))
    journal.append(conn, gateway_keys.name, [values])


def _key_values(key: GatewayKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "key_hash": key.key_hash,
        "actor": key.actor,
        "team": key.team,
        "approved_by": key.approved_by,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    }


def keys(conn: Connection, key_hash: str | None = None) -> list[GatewayKey]:
    """The keys (with ``key_hash``: that one) in the state the journal holds them in."""
    query = select(gateway_keys).order_by(gateway_keys.c.created_at, gateway_keys.c.id)
    if key_hash is not None:
        query = query.where(gateway_keys.c.key_hash == key_hash)
    try:
        found = list(conn.execute(query).mappings().all())
    except reading.UNDECODABLE:  # a row holds a value its type cannot decode: that row is
        found = _readable_rows(conn, query)  # not served (``ledger verify`` names it)
    return [_to_key(row) for row in journal.matching(conn, gateway_keys.name, found)]


def _readable_rows(conn: Connection, query: Select[Any]) -> list[RowMapping]:
    ids = conn.scalars(query.with_only_columns(gateway_keys.c.id)).all()
    rows = [reading.row(conn, gateway_keys, gateway_keys.c.id, key_id) for key_id in ids]
    return [row for row in rows if not isinstance(row, Unreadable)]


def _to_key(row: Mapping[Any, Any]) -> GatewayKey:
    return GatewayKey(**{column.name: row[column.name] for column in gateway_keys.c})


def revoke_key(conn: Connection, key_id: str, now: datetime) -> bool:
    query = (
        update(gateway_keys)
        .where(gateway_keys.c.id == key_id, gateway_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if conn.execute(query).rowcount == 0:
        return False
    row = conn.execute(select(gateway_keys).where(gateway_keys.c.id == key_id)).mappings().one()
    journal.append(conn, gateway_keys.name, [row])
    return True


def spend(conn: Connection, by: str, since: datetime) -> dict[str, float]:
    """The priced cost of the outputs since ``since``, per ``team`` or ``key_id``; a cost from
    estimated usage is left out (the gateway keeps what it charged for those itself)."""
    column = outputs.c[by]
    query = (
        select(column, func.sum(outputs.c.cost_usd))
        .where(outputs.c.created_at >= since, column.is_not(None))
        .where(outputs.c.usage_estimated.is_(False))
        .group_by(column)
    )
    return {str(name): float(total or 0.0) for name, total in conn.execute(query)}


def usage(
    conn: Connection, by: str, since: datetime | None, until: datetime | None = None
) -> list[UsageRow]:
    """Token and cost totals per ``by`` and vendor (the vendor gives the internal share), over
    the outputs that carry usage (those the gateway recorded) created from ``since`` and before
    ``until``; how many of them, and how many of their tokens, were estimated."""
    group, c = outputs.c[by], outputs.c
    sums = [
        func.coalesce(func.sum(c[name]), 0)
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    ]
    unpriced = func.sum(case((c.cost_usd.is_(None), 1), else_=0))
    guessed = c.usage_estimated.is_(True)
    guessed_tokens = func.coalesce(c.input_tokens, 0) + func.coalesce(c.output_tokens, 0)
    estimated = [
        func.sum(case((guessed, 1), else_=0)),
        func.sum(case((guessed, guessed_tokens), else_=0)),
    ]
    query = select(group, c.vendor, func.count(), *sums, func.sum(c.cost_usd), unpriced)
    query = query.add_columns(*estimated)
    has_usage = (c[name].is_not(None) for name in ("input_tokens", "output_tokens", "cost_usd"))
    query = query.where(or_(*has_usage))
    if since is not None:
        query = query.where(c.created_at >= since)
    if until is not None:
        query = query.where(c.created_at < until)
    query = query.group_by(group, c.vendor).order_by(group, c.vendor)
    return [
        UsageRow(
            group=None if row[0] is None else str(row[0]),
            vendor=str(row[1]),
            outputs=int(row[2]),
            input_tokens=int(row[3]),
            output_tokens=int(row[4]),
            cache_read_tokens=int(row[5]),
            cache_write_tokens=int(row[6]),
            cost_usd=float(row[7] or 0.0),
            unpriced=int(row[8] or 0),
            estimated=int(row[9] or 0),
            estimated_tokens=int(row[10] or 0),
        )
        for row in conn.execute(query)
    ]


@dataclass(frozen=True)
class ModelSeen:
    """A (vendor, model) pair in the ledger: its outputs, and how many of them carry usage
    (token counts or a cost)."""

    vendor: str
    model: str
    outputs: int
    with_usage: int


def models(conn: Connection) -> list[ModelSeen]:
    """Every (vendor, model) pair the ledger holds, with its counts, in name order."""
    c = outputs.c
    has_usage = or_(*(c[n].is_not(None) for n in ("input_tokens", "output_tokens", "cost_usd")))
    with_usage = func.sum(case((has_usage, 1), else_=0))
    query = (
        select(c.vendor, c.model, func.count(), with_usage)
        .group_by(c.vendor, c.model)
        .order_by(c.vendor, c.model)
    )
    return [
        ModelSeen(str(vendor), str(model), int(count), int(usage or 0))
        for vendor, model, count, usage in conn.execute(query)
    ]
