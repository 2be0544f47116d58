"""The gateway's long-lived parts, started and stopped with the server (ASGI lifespan)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from distillguard.capture.gateway.access import Access, KeyCache, Spend
from distillguard.capture.gateway.drain import Drain
from distillguard.capture.gateway.metrics import Metrics
from distillguard.capture.gateway.spool import Spool
from distillguard.capture.gateway.upstream import Upstream
from distillguard.config import Settings
from distillguard.errors import DistillguardError
from distillguard.fingerprint import FingerprintConfig, settings_for
from distillguard.index.sets import privacy_form
from distillguard.ledger import Ledger
from distillguard.model import NewOutput, Recorded

log = logging.getLogger("distillguard.gateway")


class LedgerHandle:
    """The ledger, opened on first use and again after a failed open (the DB may be down)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._ledger: Ledger | None = None
        self._lock = threading.Lock()

    def get(self) -> Ledger:
        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger(self._url)
            return self._ledger

    def close(self) -> None:
        with self._lock:
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None


@dataclass
class Services:
    spool: Spool
    drain: Drain
    access: Access
    ledger: LedgerHandle
    clients: Mapping[str, Upstream]
    refresher: Refresher

    def stop(self) -> None:
        """Stop the threads; write what is spooled if the ledger takes it; close files."""
        self.refresher.stop()
        self.drain.stop(flush=True)
        self.spool.close()
        self.ledger.close()


class Refresher:
    """Reloads keys and spend from the ledger every ``interval`` seconds, in a thread."""

    def __init__(self, access: Access, ledger: LedgerHandle, interval: float) -> None:
        self._access, self._ledger, self._interval = access, ledger, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dg-refresh", daemon=True)

    def refresh(self) -> None:
        self._access.keys.refresh()
        try:
            self._access.spend.reload(self._ledger.get().spend, datetime.now(UTC))
        except DistillguardError as exc:
            log.warning("cannot reload spend from the ledger: %s", exc)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.refresh()


def start(
    settings: Settings,
    metrics: Metrics,
    clients: Mapping[str, Upstream],
    *,
    refresh_s: float = 5.0,
    drain_s: float = 0.5,
) -> Services:
    """Open the spool, load keys and spend, start the drain (it replays any old spool)."""
    handle = LedgerHandle(settings.db_url)
    keys = KeyCache(
        lambda: handle.get().list_keys(),
        lambda h: handle.get().find_key(h),
        snapshot=settings.home / "keys.json",
    )
    access = Access(keys, settings.teams, Spend(settings.teams))
    spool = Spool(settings.home / "spool")
    sink = _sink(handle, access.spend, metrics, settings.fingerprints_only)
    drain = Drain(spool, sink, probe=lambda: handle.get().max_seq(), interval=drain_s)
    refresher = Refresher(access, handle, refresh_s)
    refresher.refresh()
    drain.start()
    refresher.start()
    return Services(spool, drain, access, handle, clients, refresher)


def _sink(
    handle: LedgerHandle, spend: Spend, metrics: Metrics, private: bool
) -> Callable[[Sequence[NewOutput]], list[Recorded]]:
    settings: list[FingerprintConfig] = []  # found once, at the first write (privacy mode)

    def write(records: Sequence[NewOutput]) -> list[Recorded]:
        try:
            ledger = handle.get()
            if private and not settings:
                settings.append(settings_for(ledger.stored_fp_configs()))
            items = [privacy_form(r, settings[0]) for r in records] if private else records
            results = ledger.record_many(items)
        except DistillguardError:
            metrics.ledger_errors.inc()
            raise
        try:  # reload before settling: counted twice for a moment, never missed
            spend.reload(ledger.spend, datetime.now(UTC))
        except DistillguardError as exc:
            log.warning("cannot reload spend from the ledger: %s", exc)
        spend.settle(records)
        metrics.ledger_writes.inc(len(records))
        return results

    return write
