"""Who may call which vendor and model, within which budget.

A request needs a gateway key that is known, not revoked, and within its grant; its team's
``[teams.NAME]`` rules must allow the vendor and model; the team's and the key's spend in the
current period must be under their budgets, and an admitted model call reserves what it may
cost until it ends (:mod:`.spend`). Keys are cached in memory and refreshed from the ledger in
the background, so the gateway keeps serving known keys while the database is down; spend is
kept beside them (``spend.log`` next to ``keys.json``) for the same reason.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from distillguard.capture.gateway.capture import Exchange
from distillguard.capture.gateway.keys import hash_secret
from distillguard.capture.gateway.refusals import Refusal
from distillguard.capture.gateway.spend import NO_HOLD, Hold, Over, Spend, budgeted, period_start
from distillguard.capture.wire.prices import Estimate, PriceTable
from distillguard.config import Team
from distillguard.errors import DistillguardError
from distillguard.model import GatewayKey, NewOutput, Usage

__all__ = ["Access", "Admitted", "KeyCache", "Spend", "period_start"]
log = logging.getLogger("distillguard.gateway")
#: The spend state file, beside the keys snapshot.
SPEND_STATE = "spend.log"
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

    @property
    def snapshot(self) -> Path | None:
        return self._snapshot

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


class Access:
    """Admission: who may call, and whether their budgets allow one more call.

    ``spend`` is kept in ``spend.log`` beside the keys snapshot when the cache has one.
    """

    def __init__(self, keys: KeyCache, teams: Mapping[str, Team], spend: Spend) -> None:
        self.keys = keys
        self.teams = teams
        self.spend = spend
        if keys.snapshot is not None:
            spend.attach(keys.snapshot.with_name(SPEND_STATE))

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

    def charge(self, exchange: Exchange, new: NewOutput, tokens: Usage, prices: PriceTable) -> None:
        """Count a spooled answer against its budgets, in place of its call's reservation."""
        hold = exchange.hold if isinstance(exchange, Admitted) else NO_HOLD
        self.spend.add(new, _charge_of(exchange, new, tokens, prices), hold)

    def authorize(self, key: GatewayKey, vendor: str, model: str | None) -> Refusal | None:
        """Why ``key`` may not call ``model`` of ``vendor`` now, if it may not (nothing held)."""
        team = self.teams.get(key.team)
        if team is None:
            return None
        refusal = _rules(team, vendor, model)
        over = self.spend.over(team, key.id, datetime.now(UTC))
        return refusal or (None if over is None else _over_budget(over, key, team))

    def admit(
        self, key: GatewayKey, vendor: str, model: str | None, cost: Estimate
    ) -> Hold | Refusal:
        """Reserve what the call may cost for a call ``key`` may make, else say why not."""
        team = self.teams.get(key.team)
        if team is None:
            return NO_HOLD
        refusal = _rules(team, vendor, model)
        if refusal is not None:
            return refusal
        if cost.unknown and budgeted(team) and team.unpriced == "refuse":
            rule = f'[teams.{team.name}] unpriced = "refuse"'
            message = f"team {team.name} makes only calls whose cost is known ({rule}): "
            return Refusal("permission", message + cost.unknown)
        held = self.spend.reserve(team, key.id, cost.usd, datetime.now(UTC))
        return _over_budget(held, key, team) if isinstance(held, Over) else held


def _rules(team: Team, vendor: str, model: str | None) -> Refusal | None:
    if team.vendors is not None and vendor not in team.vendors:
        return Refusal("permission", f"team {team.name} may not use vendor {vendor} "
                       f"(allowed: {', '.join(team.vendors) or 'none'})")  # fmt: skip
    if model and team.models is not None and not _any_match(model, team.models):
        return Refusal("permission", f"team {team.name} may not use model {model} "
                       f"(allowed: {', '.join(team.models) or 'none'})")  # fmt: skip
    return None


def _over_budget(over: Over, key: GatewayKey, team: Team) -> Refusal:
    what = f"team {team.name}" if over.by == "team" else f"key {key.id} ({key.actor})"
    message = (f"the {ADJECTIVE[team.period]} budget of {what} is spent: "
               f"${over.spent:.2f} of ${over.budget:.2f}")  # fmt: skip
    if over.reserved:
        message += f" (${over.reserved:.2f} of it reserved by calls in flight)"
    return Refusal("budget", message)


@dataclasses.dataclass(frozen=True)
class Admitted(Exchange):
    """An exchange the gateway admitted, with what its call holds until it ends."""

    hold: Hold = NO_HOLD

    @classmethod
    def of(cls, exchange: Exchange, hold: Hold) -> Admitted:
        fields = {f.name: getattr(exchange, f.name) for f in dataclasses.fields(exchange)}
        return cls(**fields, hold=hold)


def _charge_of(exchange: Exchange, new: NewOutput, tokens: Usage, prices: PriceTable) -> float:
    """What an answer counts against its budget: its cost; at the vendor's dearest prices when
    its model has none; its call's reservation when no usage came (a cost from estimated
    usage is no bound: hidden reasoning tokens are not in the text it was estimated from)."""
    if new.cost_usd is not None and not new.usage_estimated:
        return new.cost_usd
    charge = prices.charge(new.vendor, new.model, tokens)
    if charge is not None:
        return charge
    return exchange.hold.usd if isinstance(exchange, Admitted) else 0.0


def _any_match(model: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(model, pattern) for pattern in patterns)
