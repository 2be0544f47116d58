"""Spend against budgets: settled, spooled, and reserved by the calls in flight.

A team's (or key's) spend in its current period is the sum of

- what the ledger held at the last reload (``Ledger.spend``: the priced outputs),
- outputs spooled and not yet written (*spooled* charges, dropped once written),
- what the ledger cannot tell: an output whose cost is unknown (no price, no usage) counts an
  estimate, kept here after it is written (*kept* charges, one per key and day),
- the reservations of calls in flight (*holds*): a call admitted under the budget reserves
  what it may cost (``PriceTable.estimate``) until it ends, answered or not.

Admission checks and reserves under one lock, so however many calls run at once a budget is
overrun by at most the call admitted last. With a state file (``spend.log`` beside the keys
snapshot) each change is appended as it happens (no fsync: it survives the process, like the
page cache it lands in) and the file is compacted to one snapshot line at each reload, so a
gateway restarted while the database is down keeps what it counted. A hold found there belongs
to a call the gateway never saw end (it was killed): its estimate is kept, not forgotten.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from distillguard.config import Team
from distillguard.model import NewOutput

log = logging.getLogger("distillguard.gateway")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_S = 86_400
#: Journal lines after which the state file is compacted even when the ledger is down.
MAX_LINES = 10_000
HOLD, SPOOLED, ESTIMATED, KEPT = "hold", "spooled", "estimated", "kept"
LedgerSpend = Callable[[str, datetime], dict[str, float]]


def period_start(period: str, now: datetime) -> datetime:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return EPOCH


@dataclass(frozen=True)
class Charge:
    """Spend this gateway counts that the ledger's sums do not (yet) hold; ``at``: epoch s."""

    team: str
    key_id: str | None
    usd: float
    at: float
    kind: str

    def of(self, by: str) -> str | None:
        return self.team if by == "team" else self.key_id


@dataclass(frozen=True)
class Hold:
    """A call's reservation, released (:meth:`Spend.release`) when the call ends."""

    id: str
    usd: float


#: What a call that no budget limits holds.
NO_HOLD = Hold("", 0.0)


class Over(NamedTuple):
    """Why a call is refused: ``by`` (``team`` or ``key_id``) has spent ``spent`` of
    ``budget``, ``reserved`` of it by calls in flight."""

    by: str
    spent: float
    reserved: float
    budget: float


class Charges:
    """Charges by id, summed per team or key, day and kind as they come and go, so a budget
    check costs the days of a period, not the number of charges."""

    def __init__(self, items: Iterable[tuple[str, Charge]] = ()) -> None:
        self._items: dict[str, Charge] = {}
        #: (by, name) -> day -> [spent, reserved, charges]
        self._sums: dict[tuple[str, str | None], dict[float, list[float]]] = {}
        for cid, charge in items:
            self.put(cid, charge)

    def __contains__(self, cid: str) -> bool:
        return cid in self._items

    def items(self) -> Iterable[tuple[str, Charge]]:
        return list(self._items.items())

    def get(self, cid: str) -> Charge | None:
        return self._items.get(cid)

    def put(self, cid: str, charge: Charge) -> None:
        self.pop(cid)
        self._items[cid] = charge
        self._count(charge, 1)

    def pop(self, cid: str) -> Charge | None:
        charge = self._items.pop(cid, None)
        if charge is not None:
            self._count(charge, -1)
        return charge

    def total(self, by: str, name: str, since: float) -> tuple[float, float]:
        """(spent, reserved) by ``name`` since ``since`` (a day's start, epoch s)."""
        spent = reserved = 0.0
        for day, sums in self._sums.get((by, name), {}).items():
            if day >= since:
                spent += sums[0]
                reserved += sums[1]
        return spent, reserved

    def _count(self, charge: Charge, sign: int) -> None:
        day = charge.at - charge.at % DAY_S
        for by in ("team", "key_id"):
            days = self._sums.setdefault((by, charge.of(by)), {})
            sums = days.setdefault(day, [0.0, 0.0, 0])
            sums[1 if charge.kind == HOLD else 0] += sign * charge.usd
            sums[2] += sign
            if not sums[2]:  # no charge left that day: no rounding left behind either
                del days[day]


def budgeted(team: Team) -> bool:
    return team.budget_usd is not None or team.key_budget_usd is not None


class Spend:
    """Spend per team and per key in each team's current period (see the module doc)."""

    def __init__(self, teams: Mapping[str, Team], state: Path | None = None) -> None:
        self._teams = teams
        self._stored: dict[tuple[str, str, float, str], float] = {}
        self._charges = Charges()
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._state: Path | None = None
        self._lines = 0
        if state is not None:
            self.attach(state)

    # --- the state file -------------------------------------------------------------------

    def attach(self, state: Path) -> None:
        """Restore from ``state`` and keep it from now on (once; later calls do nothing)."""
        with self._lock:
            if self._state is not None:
                return
            self._state = state
            self._restore(state)
            self._compact()

    def _restore(self, path: Path) -> None:
        try:
            lines = path.read_bytes().splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read the saved spend %s: %s", path, exc)
            return
        bad = sum(not self._replay(line) for line in lines)
        if bad:
            log.warning("saved spend %s: %d unreadable line(s) skipped", path, bad)
        for cid, charge in list(self._charges.items()):
            if charge.kind == HOLD:  # a call this gateway never saw end
                self._charges.pop(cid)
                self._keep(charge)
        log.info("spend restored from %s", path)

    def _replay(self, line: bytes) -> bool:
        try:
            event = orjson.loads(line)
            if isinstance(event, dict):
                self._stored = dict(_stored_row(row) for row in event["stored"])
                self._charges = Charges((_id(r[0]), _charge_row(r[1:])) for r in event["charges"])
            elif event[0] == "+":
                self._charges.put(_id(event[1]), _charge_row(event[2:]))
            elif event[0] == "-":
                self._charges.pop(_id(event[1]))
            elif event[0] == "=":
                self._settle([_id(cid) for cid in event[1]])
            else:
                return False
        except (ValueError, TypeError, KeyError, IndexError) as exc:  # a torn or foreign line
            log.debug("unreadable spend line %r: %s", line[:80], exc)
            return False
        return True

    def _log(self, *events: list[Any]) -> None:
        """Append changes to the state file, in one write (under the lock)."""
        if self._state is None or not events:
            return
        try:
            with self._state.open("ab") as fh:
                fh.write(b"".join(orjson.dumps(event) + b"\n" for event in events))
        except OSError as exc:
            log.warning("cannot save spend to %s: %s", self._state, exc)
        self._lines += len(events)
        if self._lines > MAX_LINES:
            self._compact()

    def _compact(self) -> None:
        """Rewrite the state file as one snapshot line (under the lock)."""
        if self._state is None:
            return
        self._prune(datetime.now(UTC))
        snapshot = {
            "stored": [[*key, usd] for key, usd in self._stored.items()],
            "charges": [[cid, *vars(c).values()] for cid, c in self._charges.items()],
        }
        temp = self._state.with_name(self._state.name + ".tmp")
        try:
            self._state.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(orjson.dumps(snapshot) + b"\n")
            os.replace(temp, self._state)
            self._lines = 0
        except OSError as exc:
            log.warning("cannot save spend to %s: %s", self._state, exc)

    def _prune(self, now: datetime) -> None:
        """Forget charges older than every budgeted team's current period."""
        periods = {team.period for team in self._teams.values() if budgeted(team)}
        if not periods:
            return
        since = min(period_start(period, now) for period in periods).timestamp()
        self._charges = Charges((cid, c) for cid, c in self._charges.items() if c.at >= since)

    # --- counting ---------------------------------------------------------------------------

    def reload(self, spend: LedgerSpend, now: datetime) -> None:
        """Read the stored spend (``Ledger.spend``) of every budgeted team's period."""
        stored: dict[tuple[str, str, float, str], float] = {}
        for period in {team.period for team in self._teams.values() if budgeted(team)}:
            since = period_start(period, now)
            for by in ("team", "key_id"):
                for name, cost in spend(by, since).items():
                    stored[(by, period, since.timestamp(), name)] = cost
        with self._lock:
            self._stored = stored
            self._compact()

    def over(self, team: Team, key_id: str, now: datetime) -> Over | None:
        """Which of the team's budgets (the team's, the key's) is spent, if one is."""
        with self._lock:
            return self._over(team, key_id, now)

    def reserve(self, team: Team, key_id: str, usd: float, now: datetime) -> Hold | Over:
        """Hold ``usd`` for a call of ``key_id`` when the team and the key are under their
        budgets (checked and held at once), else say which is over."""
        if not budgeted(team):
            return NO_HOLD
        with self._lock:
            over = self._over(team, key_id, now)
            if over is not None or usd <= 0:
                return over or NO_HOLD
            hold = Hold(f"hold-{next(self._ids)}", usd)
            self._log(self._charge(hold.id, Charge(team.name, key_id, usd, now.timestamp(), HOLD)))
            return hold

    def _over(self, team: Team, key_id: str, now: datetime) -> Over | None:
        for by, name, budget in (
            ("team", team.name, team.budget_usd),
            ("key_id", key_id, team.key_budget_usd),
        ):
            if budget is not None:
                spent, reserved = self._spent(by, name, team.period, now)
                if spent >= budget:
                    return Over(by, spent, reserved, budget)
        return None

    def release(self, hold: Hold) -> None:
        """The call ended: its reservation no longer counts (what it cost was added)."""
        if hold.id:
            with self._lock:
                if self._charges.pop(hold.id) is not None:
                    self._log(["-", hold.id])

    def add(self, new: NewOutput, charge: float | None = None, hold: Hold = NO_HOLD) -> None:
        """Count a spooled output until it is written, in place of its call's ``hold``: its
        cost, else ``charge`` (an estimate, kept after the write: the ledger has no cost, or
        only one from estimated usage, which ``Ledger.spend`` leaves out)."""
        known = new.cost_usd is not None and not new.usage_estimated
        usd = new.cost_usd if known else charge
        team = self._teams.get(new.team or "")
        kind = SPOOLED if known else ESTIMATED
        at = (new.created_at or datetime.now(UTC)).timestamp()
        with self._lock:
            events = []
            if hold.id and self._charges.pop(hold.id) is not None:
                events.append(["-", hold.id])
            if usd is not None and team is not None and budgeted(team):
                cid = new.idempotency_key()
                events.append(self._charge(cid, Charge(team.name, new.key_id, usd, at, kind)))
            self._log(*events)

    def settle(self, written: Iterable[NewOutput]) -> None:
        """These outputs are in the ledger now (the next reload counts the priced ones)."""
        ids = [new.idempotency_key() for new in written]
        with self._lock:
            found = [cid for cid in ids if cid in self._charges]
            if found:
                self._settle(found)
                self._log(["=", found])

    def spent(self, by: str, name: str, period: str, now: datetime | None = None) -> float:
        """What ``name`` (a team, or a key id) has spent in the period, reservations included."""
        with self._lock:
            return self._spent(by, name, period, now or datetime.now(UTC))[0]

    def _spent(self, by: str, name: str, period: str, now: datetime) -> tuple[float, float]:
        """(spent, of which reserved) in the period (under the lock)."""
        since = period_start(period, now).timestamp()
        spent, reserved = self._charges.total(by, name, since)
        spent += self._stored.get((by, period, since, name), 0.0)
        return spent + reserved, reserved

    def _charge(self, cid: str, charge: Charge) -> list[Any]:
        """Count ``charge``; the state file's line for it."""
        self._charges.put(cid, charge)
        return ["+", cid, *vars(charge).values()]

    def _settle(self, ids: Iterable[str]) -> None:
        for cid in ids:
            charge = self._charges.pop(cid)
            if charge is not None and charge.kind == ESTIMATED:
                self._keep(charge)

    def _keep(self, charge: Charge) -> None:
        """Add ``charge`` to its key's kept estimates of that day."""
        day = charge.at - charge.at % DAY_S
        cid = f"kept:{charge.team}:{charge.key_id}:{int(day)}"
        kept = self._charges.get(cid)
        usd = charge.usd + (kept.usd if kept else 0.0)
        self._charges.put(cid, Charge(charge.team, charge.key_id, usd, day, KEPT))


def _id(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"not a charge id: {value!r:.40}")
    return value


def _usd(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"not an amount: {value!r:.40}")
    return float(value)


def _charge_row(row: list[Any]) -> Charge:
    """A saved charge, checked: a file that is not ours never reaches the sums."""
    team, key_id, usd, at, kind = row
    if kind not in (HOLD, SPOOLED, ESTIMATED, KEPT):
        raise ValueError(f"not a kind of charge: {kind!r:.40}")
    key = None if key_id is None else _id(key_id)
    return Charge(_id(team), key, _usd(usd), _usd(at), kind)


def _stored_row(row: list[Any]) -> tuple[tuple[str, str, float, str], float]:
    by, period, since, name, usd = row
    return (_id(by), _id(period), _usd(since), _id(name)), _usd(usd)
