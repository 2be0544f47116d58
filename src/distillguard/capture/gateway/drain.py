"""The drain: a background thread moving spooled outputs into the ledger.

Every ``interval`` seconds (or when woken) it rotates the spool and records each closed
segment with ``Ledger.record_many`` (idempotent by message id), deleting the segment only after
the commit. When the database is down it retries with exponential backoff while the gateway
keeps serving and spooling; at start it replays whatever a previous run left.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from distillguard.capture.gateway.spool import Segment, Spool, encode, read_segment
from distillguard.errors import DistillguardError, InputError, LedgerError
from distillguard.model import NewOutput, Recorded

log = logging.getLogger("distillguard.gateway")
REJECTED = "rejected.log"
Sink = Callable[[Sequence[NewOutput]], list[Recorded]]


@dataclass
class DrainStats:
    written: int = 0
    errors: int = 0
    skipped_lines: int = 0
    rejected: int = 0
    last_error: str | None = None
    listeners: list[Callable[[str, int], None]] = field(default_factory=list)

    def emit(self, what: str, n: int) -> None:
        for listener in self.listeners:
            listener(what, n)


class Drain:
    """Moves the spool into ``sink`` (``Ledger.record_many``) from a thread of its own."""

    def __init__(
        self,
        spool: Spool,
        sink: Sink,
        *,
        interval: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.spool = spool
        self.stats = DrainStats()
        self._sink = sink
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
        self._thread.join()
        if flush:
            self.drain_once()

    def drain_once(self) -> bool:
        """Move every closed segment into the ledger; False when a write failed."""
        for path in self.spool.rotate():
            segment = read_segment(path)
            if segment.bad:
                log.warning("spool %s: %d torn or corrupt line(s) skipped", path, segment.bad)
                self.stats.skipped_lines += segment.bad
            try:
                if segment.records:
                    self._write(segment)
            except DistillguardError as exc:
                self.stats.errors += 1
                self.stats.last_error = str(exc)
                self.stats.emit("error", 1)
                log.warning("ledger write failed, will retry: %s", exc)
                return False
            self.spool.remove(segment)
            self.stats.written += len(segment.records)
            self.stats.emit("written", len(segment.records))
        return True

    def _write(self, segment: Segment) -> None:
        """Write a segment; a record the ledger refuses as invalid is set aside in
        :data:`REJECTED` (kept, not lost) and the others are written one by one."""
        try:
            self._sink(segment.records)
            return
        except InputError as exc:
            log.error("spool %s holds a record the ledger refuses: %s", segment.path, exc)
        for new in segment.records:
            try:
                self._sink([new])
            except InputError as exc:
                with (self.spool.directory / REJECTED).open("ab") as fh:
                    fh.write(encode(new))
                    os.fsync(fh.fileno())
                self.stats.rejected += 1
                log.error("set aside in %s: %s", REJECTED, exc)

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
        except (LedgerError, OSError, DistillguardError) as exc:
            log.error("drain failed: %s", exc)
            return False
