"""The Ledger: the one class that owns the ledger database.

Append-only and tamper-evident (see :mod:`distillguard.ledger.chain`). Writers hold the
backend's writer lock for the whole batch, so concurrent processes never fork the chain.
Reads page through ``seq`` (keyset pagination), so nothing loads the whole ledger in memory.

Edits and gateway keys sit beside the chain of outputs; every write to them appends to the
journal, a second chain (see :mod:`distillguard.ledger.journal`). The head names both chains'
tails (see :mod:`distillguard.ledger.anchor`).

PostgreSQL cannot store NUL characters in text: there, an output holding one is refused with
InputError rather than stored altered (SQLite keeps it as it is).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from itertools import islice
from types import TracebackType
from typing import Any

from sqlalchemy import Column, Connection, RowMapping, Table, bindparam, func, select

from distillguard.errors import InputError, TamperError
from distillguard.ledger import accounts, anchor, backend, chain, edits, journal, migrations, rows
from distillguard.ledger.reading import key_of, pages
from distillguard.ledger.schema import HEAVY_COLUMNS, gateway_keys, outputs
from distillguard.ledger.schema import journal as schema_journal
from distillguard.model import GatewayKey, NewOutput, Output, Recorded, UsageRow

#: Outputs per write transaction. Each transaction rewrites the index pages it touches (two
#: random-key indexes), so small batches cost far more I/O per output: loading 10^6 outputs of
#: 2.5 KB into SQLite ran at ~4,900/s with 2,000 per batch and ~10,000/s with 20,000.
BATCH_SIZE = 20_000
KEY_CHUNK = 1000
VERIFY_BATCH = 2000
#: The tables beside outputs whose every write is journaled.
JOURNALED = (edits.edits, gateway_keys)


class Ledger:
    """An append-only, hash-chained store of outputs (SQLite file or PostgreSQL)."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        """Open the ledger at ``url``; a missing SQLite file is created only with ``create``
        (else LedgerMissingError)."""
        self._url = backend.parse_url(url)
        if not create:
            backend.require_existing(self._url)
        self._engine = backend.create(self._url)
        try:
            with backend.mapped_errors("connect to", self._url):
                self._migrate()
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def url_for_display(self) -> str:
        return backend.display(self._url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- writing ------------------------------------------------------------------------

    def record(self, new: NewOutput) -> Recorded:
        """Record one output; a duplicate returns the existing id with ``created=False``."""
        return self.record_many([new])[0]

    def record_many(
        self, items: Iterable[NewOutput], batch_size: int = BATCH_SIZE
    ) -> list[Recorded]:
        """Record outputs in order, one transaction per batch; idempotent like :meth:`record`.

        An invalid output raises InputError; the batches before it stay recorded.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        results: list[Recorded] = []
        allow_nul = not backend.is_postgres(self._url)
        iterator = iter(items)
        while batch := list(islice(iterator, batch_size)):
            now = datetime.now(UTC)
            prepared = [rows.prepare(new, now, allow_nul=allow_nul) for new in batch]
            with (
                backend.mapped_errors("write to", self._url),
                backend.write_transaction(self._engine) as conn,
            ):
                results.extend(self._append(conn, prepared))
        return results

    def _append(self, conn: Connection, prepared: list[dict[str, Any]]) -> list[Recorded]:
        known = _known_keys(conn, [row["idempotency_key"] for row in prepared])
        seq, prev = _last(conn, outputs) or (0, chain.GENESIS)
        new_rows, results = [], []
        for row in prepared:
            key = row["idempotency_key"]
            results.append(Recorded(row["id"], key not in known))
            if key in known:
                continue
            known.add(key)
            seq += 1
            row.update(seq=seq, prev_hash=prev)
            prev = row["chain_hash"] = chain.link(prev, row)
            new_rows.append(row)
        if new_rows:
            backend.insert_many(conn, outputs, new_rows)
        return results

    def _migrate(self) -> None:
        with self._engine.connect() as conn:
            if not migrations.pending(conn):
                return
        with backend.write_transaction(self._engine) as conn:
            migrations.apply(conn)

    # --- reading ------------------------------------------------------------------------

    def get(self, output_id: str) -> Output | None:
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            row = conn.execute(select(outputs).where(outputs.c.id == output_id)).mappings().first()
        return None if row is None else rows.to_output(row)

    def iter_outputs(
        self, after_seq: int = 0, *, with_text: bool = True, batch_size: int = 5000
    ) -> Iterator[Output]:
        """Outputs with ``seq > after_seq`` in ascending order; ``with_text=False`` skips
        the text and request (they come back as None)."""
        columns = [c for c in outputs.c if with_text or c.name not in HEAVY_COLUMNS]
        for row in self._pages(columns, after_seq, batch_size):
            if with_text and chain.text_removed(row):
                raise TamperError(
                    f"output {row['id']} (seq {row['seq']}) has no text, yet is not a "
                    "fingerprints-only record: its text was removed from the ledger "
                    "(distillguard ledger verify lists what else was altered)"
                )
            yield rows.to_output(row)

    def count(self) -> int:
        return self._scalar(select(func.count()).select_from(outputs))

    def stored_fp_configs(self) -> set[str]:
        """The fingerprint settings of the outputs kept only as fingerprints (privacy mode)."""
        query = select(outputs.c.fp_config).where(outputs.c.fp_config.is_not(None)).distinct()
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            return {str(v) for v in conn.execute(query).scalars()}

    def max_seq(self) -> int:
        return self._scalar(select(func.coalesce(func.max(outputs.c.seq), 0)))

    def head(self) -> str:
        """The tails of both chains, ``"<seq>:<chain_hash>+<seq>:<chain_hash>"`` (outputs, then
        journal); ``0:<genesis>`` for an empty one."""
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            tail = _last(conn, outputs) or (0, chain.GENESIS)
            journal_tail = journal.last(conn) or (0, journal.GENESIS)
        return str(anchor.Head(tail, journal_tail))

    def verify(self, expect_head: str | anchor.Head | None = None) -> chain.VerifyReport:
        """Recompute both chains and hold the journaled tables against the journal; with
        ``expect_head`` (a head printed earlier) also detect a cut-off or rewritten tail."""
        expected = (
            anchor.expected_head(expect_head) if isinstance(expect_head, str) else expect_head
        )
        records = chain.Verifier(expect_head=None if expected is None else expected.outputs)
        entries = journal.Verifier(expect_head=None if expected is None else expected.journal)
        for verifier, table in ((records, outputs), (entries, schema_journal)):
            for page in pages(self._reader, table, table.c.seq, VERIFY_BATCH):
                for row in page:
                    verifier.feed(row)
        tables = chain.Problems()
        for table in JOURNALED:
            self._check_journaled(table, tables)
        problems = (*records.finish(), *entries.finish(), *tables.lines())
        head = str(anchor.Head(records.tail, entries.tail))
        return chain.VerifyReport(not problems, records.records, head, problems, entries.records)

    def _check_journaled(self, table: Table, problems: chain.Problems) -> None:
        with self._snapshot() as conn:  # rows and their entries as of one moment
            for page in pages(lambda: nullcontext(conn), table, table.c.id, VERIFY_BATCH):
                states = journal.latest(conn, table.name, [key_of(r, table.c.id) for r in page])
                journal.check_rows(table.name, page, states, problems)
            journal.check_removed(conn, table, problems)

    @contextmanager
    def _reader(self) -> Iterator[Connection]:
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A connection in one read transaction that sees one snapshot throughout (a revoke
        committed meanwhile is seen in both the key and its journal entry, or in neither)."""
        with self._reader() as conn:
            if backend.is_postgres(self._url):
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def _pages(
        self, columns: Sequence[Column[Any]], after_seq: int, batch_size: int
    ) -> Iterator[RowMapping]:
        last = after_seq
        while True:
            query = select(*columns).where(outputs.c.seq > last).order_by(outputs.c.seq)
            with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
                page = conn.execute(query.limit(batch_size)).mappings().all()
            yield from page
            if len(page) < batch_size:
                return
            last = page[-1]["seq"]

    # --- gateway keys, spend and usage ----------------------------------------------------

    def add_key(self, key: GatewayKey) -> None:
        """Store a gateway key (its hash) with its grant."""
        with (
            backend.mapped_errors("write to", self._url),
            backend.write_transaction(self._engine) as conn,
        ):
            accounts.add_key(conn, key)

    def list_keys(self) -> list[GatewayKey]:
        """Every gateway key, revoked and expired ones too, oldest first."""
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            return accounts.keys(conn)

    def find_key(self, key_hash: str) -> GatewayKey | None:
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            found = accounts.keys(conn, key_hash)
        return found[0] if found else None

    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; False when there is no such key or it was revoked already."""
        with (
            backend.mapped_errors("write to", self._url),
            backend.write_transaction(self._engine) as conn,
        ):
            return accounts.revoke_key(conn, key_id, datetime.now(UTC))

    def spend(self, by: str, since: datetime) -> dict[str, float]:
        """Priced cost of the outputs created since ``since``, per ``team`` or ``key_id`` (a
        cost from estimated usage left out)."""
        if by not in ("team", "key_id"):
            raise ValueError(f"spend is per team or key_id, not {by!r}")
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            return accounts.spend(conn, by, since)

    def usage(
        self, by: str = "team", since: datetime | None = None, until: datetime | None = None
    ) -> list[UsageRow]:
        """Tokens and cost per group and vendor of the outputs that carry usage, created from
        ``since`` and before ``until``."""
        if by not in accounts.USAGE_GROUPS:
            raise InputError(f"usage --by must be one of {', '.join(accounts.USAGE_GROUPS)}")
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            return accounts.usage(conn, by, since, until)

    def models(self) -> list[accounts.ModelSeen]:
        """Every (vendor, model) pair recorded, with its output counts."""
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            return accounts.models(conn)

    # --- agent file edits -------------------------------------------------------------------

    def record_edits(self, items: Iterable[edits.Edit]) -> list[bool]:
        """Record file edits (idempotent: one already there is skipped); for each, if new."""
        batch = list(items)
        if not batch:
            return []
        with (
            backend.mapped_errors("write to", self._url),
            backend.write_transaction(self._engine) as conn,
        ):
            return edits.insert(conn, batch)

    def list_edits(
        self, *, output_id: str | None = None, path: str | None = None
    ) -> list[edits.Edit]:
        """Recorded edits, oldest first, of one output and/or one file path."""
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            return edits.select_edits(conn, output_id=output_id, path=path)

    def _scalar(self, query: Any) -> int:
        with backend.mapped_errors("read", self._url), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def _known_keys(conn: Connection, keys: list[str]) -> set[str]:
    """Which of ``keys`` the ledger already holds."""
    unique = list(dict.fromkeys(keys))
    query = select(outputs.c.idempotency_key).where(
        outputs.c.idempotency_key.in_(bindparam("keys", expanding=True))
    )
    known: set[str] = set()
    for start in range(0, len(unique), KEY_CHUNK):
        known.update(conn.scalars(query, {"keys": unique[start : start + KEY_CHUNK]}))
    return known


def _last(conn: Connection, table: Table) -> tuple[int, str] | None:
    query = select(table.c.seq, table.c.chain_hash).order_by(table.c.seq.desc()).limit(1)
    row = conn.execute(query).first()
    return None if row is None else (int(row.seq), str(row.chain_hash))
