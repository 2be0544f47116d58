"""What differs between SQLite and PostgreSQL: URLs, engines, the writer lock, error messages.

Writers are serialized so the chain stays linear: SQLite opens write transactions with
``BEGIN IMMEDIATE`` (WAL, ``busy_timeout``); PostgreSQL takes a transaction-scoped advisory lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from distillguard.errors import LedgerError, LedgerMissingError, MissingDependencyError

BUSY_TIMEOUT_S = 60
CONNECT_TIMEOUT_S = 10
#: Larger pages hold several 2-3 KB outputs each; a larger cache keeps the random-key indexes hot.
SQLITE_PAGE_SIZE = 16384
SQLITE_CACHE_KIB = 65536
#: Checkpoint the WAL every 256 MiB instead of 16: every batch rewrites index pages at random
#: places, and checkpointing them once per many batches halves the random writes and fsyncs.
SQLITE_CHECKPOINT_PAGES = 16384
SQLITE_WAL_LIMIT = 64 * 1024 * 1024
WRITE_OPTION = "distillguard_write"
#: Key of the PostgreSQL advisory lock that serializes ledger writers (any fixed bigint).
PG_LOCK_KEY = 0x6469_7374_6C67_6401


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL of a supported ledger; ``postgresql://`` means psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerError(
            "invalid ledger URL: expected sqlite:///PATH or postgresql+psycopg://..."
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise LedgerError(
            f"unsupported ledger database {parsed.drivername!r} in {display(parsed)}: "
            "use sqlite:///PATH or postgresql+psycopg://..."
        )
    return parsed


def display(url: URL) -> str:
    """The URL with its password masked."""
    return url.render_as_string(hide_password=True)


def is_postgres(url: URL) -> bool:
    return url.get_backend_name() == "postgresql"


def require_existing(url: URL) -> None:
    """LedgerMissingError unless the SQLite file of ``url`` exists (a PostgreSQL database is
    named by the URL, and connecting to a missing one fails by itself)."""
    database = url.database or ""
    if is_postgres(url) or database in ("", ":memory:") or database.startswith("file:"):
        return
    if not Path(database).is_file():
        raise LedgerMissingError(
            f"no ledger at {Path(database).resolve()}: nothing was recorded there "
            "(record, import and serve create a ledger; commands that only read do not)"
        )


def create(url: URL) -> Engine:
    """An engine for ``url``, configured for this backend."""
    return _postgres_engine(url) if is_postgres(url) else _sqlite_engine(url)


def _postgres_engine(url: URL) -> Engine:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("psycopg", "postgres") from exc
    args: dict[str, Any] = {"prepare_threshold": None}  # see below
    if "connect_timeout" not in url.query:
        args["connect_timeout"] = CONNECT_TIMEOUT_S
    # No server-side prepared statements: psycopg would prepare the duplicate lookup after five
    # runs, and PostgreSQL then keeps the generic plan it made while the table was small (a
    # sequential scan), which makes a bulk import slower with every batch.
    return create_engine(url, connect_args=args)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            message = f"cannot create the directory of the ledger {database}: {exc}"
            raise LedgerError(message) from exc
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by _sqlite_on_begin
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
    cursor.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")  # new files only; before WAL
    cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_CHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit = {SQLITE_WAL_LIMIT}")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    writing = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction holding the ledger's writer lock; commits on success."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield conn


def insert_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append ``rows`` to ``table`` the fastest way each driver offers.

    Core's per-row parameter processing costs more than SQLite's insert itself, so rows go to
    the driver as they are: one executemany on SQLite (``created_at`` as the naive UTC text
    SQLAlchemy's DateTime reads back), one COPY on PostgreSQL.
    """
    names = [column.name for column in table.c]
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    if conn.dialect.name == "postgresql":
        _copy(conn, f"COPY {quote(table.name)} ({columns}) FROM STDIN", names, rows)
        return
    marks = ", ".join(f":{name}" for name in names)
    params = [{**row, "created_at": _sqlite_datetime(row["created_at"])} for row in rows]
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})", params)


def _copy(conn: Connection, sql: str, names: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """COPY rows in through psycopg, inside the connection's transaction."""
    driver: Any = conn.connection.driver_connection
    driver_error = conn.dialect.loaded_dbapi.Error
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([row[name] for name in names])
    except driver_error as exc:
        raise DBAPIError.instance(sql, None, exc, driver_error) from exc


def _sqlite_datetime(value: datetime) -> str:
    utc = value.astimezone(UTC)
    return utc.isoformat(sep=" ", timespec="microseconds").removesuffix("+00:00")


@contextmanager
def mapped_errors(action: str, url: URL) -> Iterator[None]:
    """Turn database errors into LedgerError("cannot <action> the ledger at <url>: <reason>")."""
    try:
        yield
    except SQLAlchemyError as exc:
        message = f"cannot {action} the ledger at {display(url)}: {reason(exc, url)}"
        raise LedgerError(message) from exc


def reason(exc: SQLAlchemyError, url: URL) -> str:
    """The driver's message on one line, without the statement or any password."""
    orig = getattr(exc, "orig", None)
    message = " ".join(str(orig if orig is not None else exc).split())
    if url.password:
        message = message.replace(str(url.password), "***")
    return message or type(exc).__name__
