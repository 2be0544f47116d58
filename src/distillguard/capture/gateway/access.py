"""Who may call which vendor and model, within which budget.

A request needs a gateway key that is known, not revoked, and within its grant; its team's
``[teams.NAME]`` rules must allow the vendor and model; the team's and the key's spend in the
current period must be under their budgets. Keys are cached in memory and refreshed from the
ledger in the background, so the gateway keeps serving known keys while the database is down.
Spend is what the ledger holds for the period plus what is spooled but not yet written.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from distillguard.capture.gateway.keys import hash_secret
from distillguard.capture.gateway.refusals import Refusal
from distillguard.config import Team
from distillguard.errors import DistillguardError
from distillguard.model import GatewayKey, NewOutput

log = logging.getLogger("distillguard.gateway")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MISS_TTL_S = 5.0
ADJECTIVE = {"day": "daily", "week": "weekly", "month": "monthly", "total": "total"}
MAX_MISSES = 10_000
NO_KEY = (
    "no distillguard key: send it as x-api-key or Authorization: Bearer "
    "(create one with: distillguard keys create)"
)


class KeyCache:
    """Gateway keys by hash: ``load`` reads them all (``Ledger.list_keys``), ``find`` one
    (``Ledger.find_key``) when a key created since the last refresh comes in. Misses (and
    failed lookups) are remembered for :data:`MISS_TTL_S` so forged keys, or a database that
    is down, do not cost a lookup each time.

    With a ``snapshot`` path, every successful refresh is saved there (key hashes and grants,
    never secrets), and a gateway that starts while the database is down serves the keys it
    knew, instead of refusing everyone until the database is back.
    """

    def __init__(
        self,
        load: Callable[[], list[GatewayKey]],
        find: Callable[[str], GatewayKey | None] | None = None,
        snapshot: Path | None = None,
    ) -> None:
        self._load = load
        self._find = find
        self._snapshot = snapshot
        self._keys: dict[str, GatewayKey] = {}
        self._misses: dict[str, float] = {}
        self._lock = threading.Lock()

    def known(self, key_hash: str) -> bool:
        return key_hash in self._keys

    def fetch(self, key_hash: str) -> None:
        """Look a key up in the ledger (blocking: call it from a thread)."""
        now = time.monotonic()
        if self._find is None or now - self._misses.get(key_hash, -MISS_TTL_S) < MISS_TTL_S:
            return
        try:
            key = self._find(key_hash)
        except DistillguardError as exc:
            log.warning("cannot look up a gateway key: %s", exc)
            key = None
        with self._lock:
            if key is None:
                if len(self._misses) > MAX_MISSES:
                    self._misses.clear()
                self._misses[key_hash] = now
            else:
                self._keys[key_hash] = key

    def refresh(self) -> bool:
        try:
            keys = {key.key_hash: key for key in self._load()}
        except DistillguardError as exc:
            log.warning("cannot refresh gateway keys (serving the cached ones): %s", exc)
            if not self._keys and self._snapshot is not None:
                self._restore(self._snapshot)
            return False
        with self._lock:
            self._keys = keys
        if self._snapshot is not None:
            _save_keys(self._snapshot, keys.values())
        return True

    def _restore(self, path: Path) -> None:
        try:
            rows = orjson.loads(path.read_bytes())
            keys = {row["key_hash"]: _key_of(row) for row in rows}
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot read the saved gateway keys %s: %s", path, exc)
            return
        with self._lock:
            self._keys = keys
        log.warning("serving %d gateway keys saved at the last refresh", len(keys))

    def get(self, key_hash: str) -> GatewayKey | None:
        return self._keys.get(key_hash)


def _save_keys(path: Path, keys: Iterable[GatewayKey]) -> None:
    """Write the keys atomically, readable by the owner only (hashes and grants, no secrets)."""
    rows = [dataclasses.asdict(key) for key in keys]
    temp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(rows))
        os.replace(temp, path)
    except OSError as exc:
        log.warning("cannot save the gateway keys to %s: %s", path, exc)


def _key_of(row: dict[str, Any]) -> GatewayKey:
    for name in ("created_at", "expires_at", "revoked_at"):
        if row.get(name) is not None:
            row[name] = datetime.fromisoformat(row[name])
    return GatewayKey(**row)


def period_start(period: str, now: datetime) -> datetime:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return EPOCH


class Spend:
    """Spend per team and per key in each team's current period: what the ledger held at the
    last reload, plus the outputs spooled since and not yet settled (written)."""

    def __init__(self, teams: Mapping[str, Team]) -> None:
        self._teams = teams
        self._stored: dict[tuple[str, str], float] = {}
        self._pending: dict[str, NewOutput] = {}
        self._lock = threading.Lock()

    def reload(self, spend: Callable[[str, datetime], dict[str, float]], now: datetime) -> None:
        """Read the stored spend (``Ledger.spend``) of every budgeted team's period."""
        stored: dict[tuple[str, str], float] = {}
        for period in {team.period for team in self._teams.values() if _budgeted(team)}:
            since = period_start(period, now)
            for by in ("team", "key_id"):
                for name, cost in spend(by, since).items():
                    stored[(by, f"{period}:{name}")] = cost
        with self._lock:
            self._stored = stored

    def add(self, new: NewOutput) -> None:
        """Count a spooled output until it is settled."""
        if new.cost_usd is not None and new.team in self._teams:
            with self._lock:
                self._pending[new.idempotency_key()] = new

    def settle(self, written: Iterable[NewOutput]) -> None:
        """These outputs are in the ledger now (the next reload counts them)."""
        with self._lock:
            for new in written:
                self._pending.pop(new.idempotency_key(), None)

    def spent(self, by: str, name: str, period: str) -> float:
        with self._lock:
            pending = [getattr(new, by) == name for new in self._pending.values()]
            costs = [new.cost_usd or 0.0 for new in self._pending.values()]
            stored = self._stored.get((by, f"{period}:{name}"), 0.0)
        return stored + sum(cost for cost, hit in zip(costs, pending, strict=True) if hit)


def _budgeted(team: Team) -> bool:
    return team.budget_usd is not None or team.key_budget_usd is not None


class Access:
    def __init__(self, keys: KeyCache, teams: Mapping[str, Team], spend: Spend) -> None:
        self.keys = keys
        self.teams = teams
        self.spend = spend

    def authenticate(self, secret: str | None, now: datetime) -> GatewayKey | Refusal:
        if not secret:
            return Refusal("authentication", NO_KEY)
        key = self.keys.get(hash_secret(secret))
        if key is None:
            return Refusal("authentication", "invalid distillguard key")
        reason = key.refusal(now)
        if reason is not None:
            kind = "authentication" if key.revoked_at is not None else "permission"
            return Refusal(kind, reason)
        return key

    def authorize(self, key: GatewayKey, vendor: str, model: str | None) -> Refusal | None:
        team = self.teams.get(key.team)
        if team is None:
            return None
        if team.vendors is not None and vendor not in team.vendors:
            return Refusal("permission", f"team {team.name} may not use vendor {vendor} "
                           f"(allowed: {', '.join(team.vendors) or 'none'})")  # fmt: skip
        if model and team.models is not None and not _any_match(model, team.models):
            return Refusal("permission", f"team {team.name} may not use model {model} "
                           f"(allowed: {', '.join(team.models) or 'none'})")  # fmt: skip
        return self._budget(key, team)

    def _budget(self, key: GatewayKey, team: Team) -> Refusal | None:
        for by, name, budget, what in (
            ("team", team.name, team.budget_usd, f"team {team.name}"),
            ("key_id", key.id, team.key_budget_usd, f"key {key.id} ({key.actor})"),
        ):
            if budget is None:
                continue
            spent = self.spend.spent(by, name, team.period)
            if spent >= budget:
                return Refusal("budget", f"the {ADJECTIVE[team.period]} budget of {what} is spent: "
                               f"${spent:.2f} of ${budget:.2f}")  # fmt: skip
        return None


def _any_match(model: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(model, pattern) for pattern in patterns)
