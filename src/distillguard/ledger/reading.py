"""Reading a table page by page for verification, where a stored value that its column type
cannot decode (a ``created_at`` of ``'yesterday'`` on SQLite, ``'infinity'`` on PostgreSQL)
spoils only its own row, never the rows after it.

A page that cannot be decoded is read again one row at a time; a row that still cannot be is
given as :class:`~distillguard.ledger.chain.Unreadable`, with its values cast to text in SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Column, Connection, RowMapping, Select, Table, Text, cast, select
from sqlalchemy.exc import DataError

from distillguard.ledger.chain import Unreadable

#: What decoding a stored value raises: SQLite's date parser (ValueError), a value of another
#: type (TypeError), a date out of Python's range (OverflowError), psycopg's loaders (DataError).
UNDECODABLE = (TypeError, ValueError, OverflowError, DataError)
Connect = Callable[[], AbstractContextManager[Connection]]
Row = RowMapping | Unreadable


def pages(connect: Connect, table: Table, key: Column[Any], size: int) -> Iterator[list[Row]]:
    """The rows of ``table`` in ascending ``key`` order, ``size`` a page, one connection each."""
    last: Any = None
    while True:
        with connect() as conn:
            page = _page(conn, table, key, last, size)
        if page:
            yield page
        if len(page) < size:
            return
        last = key_of(page[-1], key)


def key_of(row: Row, key: Column[Any]) -> Any:
    return row.key if isinstance(row, Unreadable) else row[key.name]


def _page(conn: Connection, table: Table, key: Column[Any], last: Any, size: int) -> list[Row]:
    query = _after(select(table), key, last).order_by(key).limit(size)
    try:
        return list(conn.execute(query).mappings())
    except UNDECODABLE:  # a value in this page cannot be decoded: find which, row by row
        keys = conn.scalars(_after(select(key), key, last).order_by(key).limit(size)).all()
        return [row(conn, table, key, value) for value in keys]


def _after(query: Select[Any], key: Column[Any], last: Any) -> Select[Any]:
    return query if last is None else query.where(key > last)


def row(conn: Connection, table: Table, key: Column[Any], value: Any) -> Row:
    """The row of ``table`` whose ``key`` is ``value``, or :class:`Unreadable`."""
    try:
        return conn.execute(select(table).where(key == value)).mappings().one()
    except UNDECODABLE as exc:
        as_text = select(*(cast(c, Text).label(c.name) for c in table.c)).where(key == value)
        return Unreadable(value, dict(conn.execute(as_text).mappings().one()), _reason(exc))


def _reason(exc: Exception) -> str:
    """The decoder's message on one line (the driver's, for a driver error)."""
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split()) or type(exc).__name__


def readable(page: Sequence[Row]) -> list[RowMapping]:
    """The rows of ``page`` that could be decoded."""
    return [row for row in page if not isinstance(row, Unreadable)]
