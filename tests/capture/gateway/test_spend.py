"""Spend: reservations, settling, charges the ledger cannot hold, and the state file; the
estimates and charges of the price table they are made of."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distillguard.capture.gateway import spend
from distillguard.capture.gateway.spend import NO_HOLD, Hold, Over, Spend
from distillguard.capture.wire import prices as pricing
from distillguard.config import Team
from distillguard.model import NewOutput, Usage

TEAM = Team("ml", budget_usd=1.0, key_budget_usd=0.6)
TEAMS = {"ml": TEAM, "free": Team("free")}
PRICES = pricing.load()


def _now() -> datetime:
    return datetime.now(UTC)


def _output(i: int, cost: float | None, key: str = "key_a", team: str = "ml") -> NewOutput:
    return NewOutput(vendor="anthropic", model="m", text="t", team=team, key_id=key,
                     cost_usd=cost, message_id=f"msg_{i}", created_at=_now())  # fmt: skip


def _held(value: Hold | Over) -> Hold:
    assert isinstance(value, Hold), value
    return value


def test_a_budget_admits_calls_while_settled_and_reserved_spend_is_under_it() -> None:
    spent = Spend(TEAMS)
    holds = [spent.reserve(TEAM, f"key_{i}", 0.3, _now()) for i in range(5)]
    assert [isinstance(h, Hold) for h in holds] == [True] * 4 + [False]  # 0, .3, .6, .9 < 1
    over = holds[-1]
    assert isinstance(over, Over) and over.by == "team"
    assert over.spent == pytest.approx(1.2) and over.reserved == pytest.approx(1.2)
    spent.release(_held(holds[0]))
    assert isinstance(spent.reserve(TEAM, "key_9", 0.3, _now()), Hold)
    assert spent.reserve(Team("free"), "key_1", 5.0, _now()) is NO_HOLD  # no budget: no hold


def test_the_key_budget_holds_too() -> None:
    spent = Spend(TEAMS)
    _held(spent.reserve(TEAM, "key_a", 0.4, _now()))
    _held(spent.reserve(TEAM, "key_a", 0.3, _now()))  # 0.4 < 0.6
    over = spent.reserve(TEAM, "key_a", 0.1, _now())
    assert isinstance(over, Over) and over.by == "key_id" and over.budget == 0.6
    _held(spent.reserve(TEAM, "key_b", 0.3, _now()))  # the team: 0.7 of 1.0
    over = spent.reserve(TEAM, "key_c", 0.1, _now())
    assert isinstance(over, Over) and over.by == "team"


def test_an_answer_replaces_its_reservation_and_a_priced_one_leaves_at_the_write() -> None:
    spent = Spend(TEAMS)
    hold = _held(spent.reserve(TEAM, "key_a", 0.5, _now()))
    new = _output(1, 0.1)
    spent.add(new, 0.1, hold)
    assert spent.spent("team", "ml", "month") == pytest.approx(0.1)
    spent.release(hold)  # the call ended after its answer was counted: nothing more changes
    assert spent.spent("key_id", "key_a", "month") == pytest.approx(0.1)
    spent.settle([new])  # in the ledger now: the next reload counts it
    assert spent.spent("team", "ml", "month") == 0.0


def test_an_estimate_outlives_the_write() -> None:
    """The ledger holds no cost for an answer of unknown cost: its estimate stays counted."""
    spent = Spend(TEAMS)
    new = _output(1, None)
    spent.add(new, 0.25)
    spent.settle([new])
    assert spent.spent("team", "ml", "month") == pytest.approx(0.25)
    spent.add(_output(2, None), None)  # no estimate at all: nothing to count
    spent.add(_output(3, 0.5, team="free"), None)  # a team without a budget: not tracked
    assert spent.spent("team", "ml", "month") == pytest.approx(0.25)


def test_spend_of_an_earlier_period_does_not_count() -> None:
    spent = Spend({"ml": Team("ml", budget_usd=1.0, period="day")})
    old = replace(_output(1, 0.5), created_at=_now() - timedelta(days=2))
    spent.add(old)
    assert spent.spent("team", "ml", "day") == 0.0
    assert spent.spent("team", "ml", "total") == pytest.approx(0.5)


def test_spend_survives_a_restart_while_the_ledger_is_down(tmp_path: Path) -> None:
    state = tmp_path / "home" / "spend.log"
    first = Spend(TEAMS, state=state)
    first.reload(lambda by, since: {"ml": 0.2} if by == "team" else {"key_a": 0.2}, _now())
    first.add(_output(1, 0.1))  # spooled, not yet written
    estimated = _output(2, None)
    first.add(estimated, 0.05)
    first.settle([estimated])  # written with no cost: its estimate is kept
    _held(first.reserve(TEAM, "key_a", 0.3, _now()))  # a call in flight when it was killed
    assert first.spent("team", "ml", "month") == pytest.approx(0.65)
    assert state.stat().st_mode & 0o777 == 0o600

    def down(by: str, since: datetime) -> dict[str, float]:
        raise OSError("the ledger is down")

    second = Spend(TEAMS, state=state)  # killed: nothing was closed or saved on the way out
    assert second.spent("team", "ml", "month") == pytest.approx(0.65)
    with pytest.raises(OSError):
        second.reload(down, _now())
    assert second.spent("key_id", "key_a", "month") == pytest.approx(0.65)
    second.settle([_output(1, 0.1)])  # the spool drained once the ledger was back
    second.reload(lambda by, since: {"ml": 0.3} if by == "team" else {"key_a": 0.3}, _now())
    assert second.spent("team", "ml", "month") == pytest.approx(0.65)  # not counted twice
    assert len(state.read_bytes().splitlines()) == 1  # compacted at the reload


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    state = tmp_path / "spend.log"
    first = Spend(TEAMS, state=state)
    first.add(_output(1, 0.1))
    first.add(_output(2, 0.2))
    state.write_bytes(state.read_bytes()[:-7])  # killed in the middle of the last write
    assert Spend(TEAMS, state=state).spent("team", "ml", "month") == pytest.approx(0.1)


def test_lines_that_are_not_charges_never_reach_the_sums(tmp_path: Path) -> None:
    state = tmp_path / "spend.log"
    first = Spend(TEAMS, state=state)
    first.add(_output(1, 0.1))
    at = _now().timestamp()
    with state.open("ab") as fh:
        for line in (b'["+", "x", "ml", "key_a", "0.5", %f, "spooled"]' % at,
                     b'["+", "y", "ml", "key_a", 0.5, %f, "gift"]' % at,
                     b'["+", "z", "ml", "key_a", NaN, 1, "spooled"]',
                     b'["-", 7]', b'{"stored": [["team"]]}', b'"text"'):  # fmt: skip
            fh.write(line + b"\n")
    assert Spend(TEAMS, state=state).spent("team", "ml", "month") == pytest.approx(0.1)


def test_the_state_file_is_compacted_as_it_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spend, "MAX_LINES", 10)
    state = tmp_path / "spend.log"
    spent = Spend(TEAMS, state=state)
    for i in range(25):
        spent.release(_held(spent.reserve(TEAM, "key_a", 0.01, _now())))
        spent.add(_output(i, 0.001))
    assert len(state.read_bytes().splitlines()) <= 11
    assert Spend(TEAMS, state=state).spent("team", "ml", "month") == pytest.approx(0.025)


def test_an_estimate_bounds_what_a_call_may_cost() -> None:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 1000, "messages": []}
    size = 4000
    estimate = PRICES.estimate("anthropic", "claude-sonnet-4-6", "/v1/messages", body, size)
    # every byte an input token at the 1-hour cache write price, the whole cap as output
    assert estimate.usd == pytest.approx((size * 6.0 + 1000 * 15.0) / 1e6)
    assert estimate.unknown is None
    most = Usage(input=0, cache_write=size, cache_write_1h=size, output=1000)
    assert PRICES.cost("anthropic", "claude-sonnet-4-6", most) <= estimate.usd  # type: ignore[operator]
    uncapped = PRICES.estimate("openai", "gpt-5", "/v1/responses", {"model": "gpt-5"}, 0)
    assert uncapped.usd == pytest.approx(pricing.MAX_OUTPUT * 10.0 / 1e6)
    huge = {"max_completion_tokens": 10**12}
    assert pricing.output_cap(huge) == pricing.MAX_OUTPUT
    assert pricing.output_cap({"max_tokens": True}) == pricing.MAX_OUTPUT  # not a count


def test_a_cost_that_cannot_be_known_says_why_and_is_never_zero() -> None:
    body = {"model": "claude-unpriced-9", "max_tokens": 10}
    unpriced = PRICES.estimate("anthropic", "claude-unpriced-9", "/v1/messages", body, 100)
    assert unpriced.unknown and "has no price" in unpriced.unknown and unpriced.usd > 0
    tokens = Usage(input=50, output=1000)
    assert PRICES.cost("anthropic", "claude-unpriced-9", tokens) is None  # the ledger's truth
    dearest = PRICES.charge("anthropic", "claude-unpriced-9", tokens)
    assert dearest == pytest.approx((50 * 15.0 + 1000 * 75.0) / 1e6)  # claude-opus-4-1's
    everyone = PRICES.dearest("metacode")  # a vendor with no prices: the table's dearest
    assert everyone is not None and everyone.output == max(
        price.output for models in PRICES.prices.values() for price in models.values()
    )
    assert PRICES.charge("anthropic", "claude-sonnet-4-6", Usage()) is None  # no usage
    chat = {"model": "gpt-4o-mini", "stream": True}
    path = "/v1/chat/completions"
    assert "include_usage" in str(PRICES.estimate("openai", "gpt-4o-mini", path, chat, 9).unknown)
    chat["stream_options"] = {"include_usage": True}
    assert PRICES.estimate("openai", "gpt-4o-mini", path, chat, 9).unknown is None
    assert pricing.unreported_usage(path, {"stream": False}) is None
