"""The drain: a background thread moving spooled outputs into the ledger.

Every ``interval`` seconds (or when woken) it rotates the spool and records each closed
segment with ``Ledger.record_many`` (idempotent by message id), deleting the segment only after
the commit. When the database is down it retries with exponential backoff while the gateway
keeps serving and spooling; at start it replays whatever a previous run left.

A record the ledger refuses never stops the drain. When a segment fails, its records are
written one by one; one that fails while the ledger is up (it answers ``probe``) is set aside:
appended, as a spool line, to :data:`REJECTED` in the spool directory (kept, counted in
``DrainStats.rejected``, logged), and the drain moves on. While the ledger is down nothing is
set aside: the segment waits. To retry set-aside records (once the cause is fixed), stop the
gateway and move the file back as ``<name>.spool``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from distillguard.capture.gateway.spool import Spool, encode, read_segment
from distillguard.errors import LedgerError
from distillguard.model import NewOutput, Recorded

log = logging.getLogger("distillguard.gateway")
REJECTED = "rejected.log"
Sink = Callable[[Sequence[NewOutput]], list[Recorded]]
Probe = Callable[[], object]


@dataclass
class DrainStats:
    written: int = 0
    errors: int = 0
    skipped_lines: int = 0
    rejected: int = 0  #: records set aside in REJECTED (those of earlier runs included)
    last_error: str | None = None  #: why the last pass failed; None once one succeeds
    listeners: list[Callable[[str, int], None]] = field(default_factory=list)

    def emit(self, what: str, n: int) -> None:
        for listener in self.listeners:
            listener(what, n)


class Drain:
    """Moves the spool into ``sink`` (``Ledger.record_many``) from a thread of its own.

    ``probe`` is a cheap read of the ledger: it tells a record the ledger refuses (probe
    answers) from a ledger that is down (probe raises). Without it, every LedgerError counts
    as the ledger being down.
    """

    def __init__(
        self,
        spool: Spool,
        sink: Sink,
        *,
        probe: Probe | None = None,
        interval: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.spool = spool
        self.stats = DrainStats(rejected=_count_lines(spool.directory / REJECTED))
        self._sink = sink
        self._probe = probe
        self._interval = interval
        self._max_backoff = max_backoff
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dg-drain", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, flush: bool = True) -> None:
        """Stop the thread; with ``flush``, try once more to write what is spooled."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        if flush:
            self._drain_guarded()

    def drain_once(self) -> bool:
        """Move every closed segment into the ledger; False when the ledger is down."""
        for path in self.spool.rotate():
            segment = read_segment(path)
            if segment.bad:
                log.warning("spool %s: %d torn or corrupt line(s) skipped", path, segment.bad)
                self.stats.skipped_lines += segment.bad
            if segment.records and not self._write(segment.records):
                return False
            self.spool.remove(segment)
            self.stats.written += len(segment.records)
            self.stats.emit("written", len(segment.records))
        self.stats.last_error = None
        return True

    def _write(self, records: list[NewOutput]) -> bool:
        """Write a segment's records; False (the segment waits) when the ledger is down."""
        try:
            self._sink(records)
            return True
        except Exception as exc:  # whatever the ledger or its driver raised: judged below
            if self._down(exc):
                return False
        for new in records:
            try:
                self._sink([new])
            except Exception as exc:  # the ledger is down, or it refuses this record
                if self._down(exc) or not self._set_aside(new, exc):
                    return False
        return True

    def _down(self, exc: Exception) -> bool:
        """Whether ``exc`` means the ledger cannot take writes now (it does not answer a
        probe), rather than that it refuses these records; records why when it is down."""
        down = isinstance(exc, OSError) or (isinstance(exc, LedgerError) and not self._up())
        if down:
            self._failed(f"ledger write failed, will retry: {exc}")
        return down

    def _up(self) -> bool:
        if self._probe is None:
            return False
        try:
            self._probe()
        except Exception as exc:  # any failure to read means the ledger is not there
            log.debug("ledger probe failed: %r", exc)
            return False
        return True

    def _set_aside(self, new: NewOutput, exc: Exception) -> bool:
        """Keep a refused record in REJECTED; False when even that fails (disk full)."""
        try:
            with (self.spool.directory / REJECTED).open("ab") as fh:
                fh.write(encode(new))
                fh.flush()
                os.fsync(fh.fileno())
        except (OSError, TypeError) as error:  # cannot keep it aside: the segment waits
            self._failed(f"cannot set a record the ledger refuses aside: {error}")
            return False
        self.stats.rejected += 1
        self.stats.emit("rejected", 1)
        log.error(
            "the ledger refuses output %s (%s/%s): %s: %s; set aside in %s",
            _key_of(new), new.vendor, new.model, type(exc).__name__, exc,
            self.spool.directory / REJECTED,
        )  # fmt: skip
        return True

    def _failed(self, message: str) -> None:
        self.stats.errors += 1
        self.stats.last_error = message
        self.stats.emit("error", 1)
        log.warning("%s", message)

    def _run(self) -> None:
        backoff = self._interval
        while not self._stop.is_set():
            ok = self._drain_guarded()
            backoff = self._interval if ok else min(backoff * 2, self._max_backoff)
            self._wake.wait(backoff)
            self._wake.clear()

    def _drain_guarded(self) -> bool:
        try:
            return self.drain_once()
        except Exception as exc:  # the drain thread must outlive any failure; it retries
            log.exception("drain failed")
            self._failed(f"drain failed: {type(exc).__name__}: {exc}")
            return False


def _key_of(new: NewOutput) -> str:
    try:
        return new.idempotency_key()
    except (TypeError, ValueError, AttributeError):  # a record too broken to have a key
        return "-"


def _count_lines(path: os.PathLike[str]) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for _ in fh)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        log.warning("cannot count %s: %s", path, exc)
        return 0
