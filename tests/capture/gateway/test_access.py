"""Keys, grants, team rules, budgets and their refusals; the [teams] config."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from distillguard.capture.gateway.access import Access, KeyCache, Spend, period_start
from distillguard.capture.gateway.keys import hash_secret, new_key, secret_of
from distillguard.capture.gateway.refusals import Refusal
from distillguard.capture.gateway.spend import NO_HOLD, Hold
from distillguard.capture.wire.api import api_of
from distillguard.capture.wire.prices import Estimate
from distillguard.config import Team, load_settings
from distillguard.errors import ConfigError, LedgerError
from distillguard.model import GatewayKey, NewOutput

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TEAMS = {
    "ml": Team("ml", vendors=("anthropic",), models=("claude-*",), budget_usd=10.0,
               key_budget_usd=4.0),
    "web": Team("web", period="day", budget_usd=1.0),
}  # fmt: skip


def _access(*keys: GatewayKey) -> Access:
    return Access(KeyCache(lambda: list(keys)), TEAMS, Spend(TEAMS))


def _spent(key: GatewayKey, cost: float, i: int = 0) -> NewOutput:
    return NewOutput(vendor="anthropic", model="claude-opus-4-6", text="t", team=key.team,
                     key_id=key.id, cost_usd=cost, message_id=f"msg_{key.id}_{i}",
                     created_at=datetime.now(UTC))  # fmt: skip


def test_new_key_is_shown_once_and_stored_hashed() -> None:
    key, secret = new_key("ada", "ml", "boss", date(2026, 3, 31), now=NOW)
    assert secret.startswith("dg-") and len(secret) > 40
    assert key.key_hash == hash_secret(secret) and secret not in repr(key)
    assert key.expires_at == datetime(2026, 4, 1, tzinfo=UTC)  # the last day is included
    with pytest.raises(ConfigError, match="in the past"):
        new_key("ada", "ml", "boss", date(2026, 3, 14), now=NOW)
    with pytest.raises(ConfigError, match="approved_by"):
        new_key("ada", "ml", " ", None)


def test_secret_from_either_header() -> None:
    assert secret_of({b"x-api-key": b"dg-a"}) == "dg-a"
    assert secret_of({b"authorization": b"Bearer dg-b"}) == "dg-b"
    assert secret_of({b"authorization": b"Basic xyz"}) is None
    assert secret_of({}) is None


def test_authentication_refusals() -> None:
    good, secret = new_key("ada", "ml", "boss", date(2026, 3, 31), now=NOW - timedelta(days=1))
    access = _access(good)
    access.keys.refresh()
    assert access.authenticate(secret, NOW) == good
    assert _kind(access.authenticate(None, NOW)) == "authentication"
    assert _kind(access.authenticate("dg-unknown", NOW)) == "authentication"
    expired = access.authenticate(secret, datetime(2026, 4, 1, tzinfo=UTC))
    assert _kind(expired) == "permission" and "ended on 2026-04-01" in str(expired)


def _kind(value: object) -> str:
    assert isinstance(value, Refusal), value
    return value.kind


def test_team_vendor_and_model_rules() -> None:
    key, _ = new_key("ada", "ml", "boss", None, now=NOW)
    access = _access(key)
    assert access.authorize(key, "anthropic", "claude-opus-4-6") is None
    assert _kind(access.authorize(key, "openai", "gpt-5")) == "permission"
    assert "may not use model gpt-5" in str(access.authorize(key, "anthropic", "gpt-5"))
    other, _ = new_key("bob", "no-rules", "boss", None, now=NOW)
    assert access.authorize(other, "anything", "any-model") is None


def test_budgets_count_stored_and_spooled_spend() -> None:
    ada, _ = new_key("ada", "ml", "boss", None, now=NOW)
    bob, _ = new_key("bob", "ml", "boss", None, now=NOW)
    access = _access(ada, bob)
    stored = {"ml": 3.0, ada.id: 3.0}
    access.spend.reload(lambda by, since: stored, datetime.now(UTC))
    assert access.authorize(ada, "anthropic", "claude-opus-4-6") is None
    access.spend.add(_spent(ada, 1.0))  # spooled, not yet in the ledger: key ada at 4.0
    refusal = access.authorize(ada, "anthropic", "claude-opus-4-6")
    assert _kind(refusal) == "budget" and "key " + ada.id in str(refusal)
    assert access.authorize(bob, "anthropic", "claude-opus-4-6") is None  # team at 4.0 of 10
    for i in range(6):
        access.spend.add(_spent(bob, 1.0, i))
    message = str(access.authorize(bob, "anthropic", None))
    assert "the monthly budget of team ml is spent: $10.00 of $10.00" in message
    access.spend.settle([_spent(bob, 1.0, i) for i in range(6)])  # written; the reload says 3
    assert access.authorize(bob, "anthropic", None) is None


def test_admission_reserves_what_a_call_may_cost() -> None:
    ada, _ = new_key("ada", "ml", "boss", None, now=NOW)
    access = _access(ada)
    first = access.admit(ada, "anthropic", "claude-opus-4-6", Estimate(2.5))
    assert isinstance(first, Hold) and first.usd == 2.5
    assert access.authorize(ada, "anthropic", "claude-opus-4-6") is None  # 2.5 of 4: a check
    assert isinstance(access.admit(ada, "anthropic", "claude-opus-4-6", Estimate(2.5)), Hold)
    refusal = access.admit(ada, "anthropic", "claude-opus-4-6", Estimate(0.1))
    assert _kind(refusal) == "budget"
    assert "$5.00 of $4.00 ($5.00 of it reserved by calls in flight)" in str(refusal)
    access.spend.release(first)
    assert isinstance(access.admit(ada, "anthropic", "claude-opus-4-6", Estimate(0.1)), Hold)
    assert _kind(access.admit(ada, "openai", "gpt-5", Estimate(0.1))) == "permission"


def test_a_call_of_unknown_cost_is_estimated_or_refused_by_the_team_rule() -> None:
    ada, _ = new_key("ada", "ml", "boss", None, now=NOW)
    why = "model claude-x of anthropic has no price in the price table"
    assert isinstance(_access(ada).admit(ada, "anthropic", "claude-x", Estimate(1.0, why)), Hold)
    strict = {"ml": replace(TEAMS["ml"], unpriced="refuse")}
    access = Access(KeyCache(lambda: [ada]), strict, Spend(strict))
    refusal = access.admit(ada, "anthropic", "claude-x", Estimate(1.0, why))
    assert _kind(refusal) == "permission" and why in str(refusal)
    assert 'unpriced = "refuse"' in str(refusal)
    free = {"ml": Team("ml", unpriced="refuse")}  # no budget: nothing to protect
    access = Access(KeyCache(lambda: [ada]), free, Spend(free))
    assert access.admit(ada, "anthropic", "claude-x", Estimate(1.0, why)) is NO_HOLD


def test_spend_is_kept_beside_the_keys_snapshot(tmp_path: Path) -> None:
    ada, _ = new_key("ada", "ml", "boss", None, now=NOW)
    keys = KeyCache(lambda: [ada], snapshot=tmp_path / "keys.json")
    access = Access(keys, TEAMS, Spend(TEAMS))
    access.spend.add(_spent(ada, 3.0))
    again = Access(KeyCache(lambda: [ada], snapshot=tmp_path / "keys.json"), TEAMS, Spend(TEAMS))
    assert again.spend.spent("team", "ml", "month") == 3.0
    assert (tmp_path / "spend.log").exists()


def test_budget_refusals_render_as_each_vendor_does() -> None:
    refusal = Refusal("budget", "spent")
    status, headers, body = refusal.render(api_of("anthropic"))
    assert status == 429 and (b"x-should-retry", b"false") in headers
    assert orjson.loads(body) == {"type": "error", "error": {"type": "rate_limit_error",
                                                             "message": "spent"}}  # fmt: skip
    status, _, body = refusal.render(api_of("openai"))
    error = {"message": "spent", "type": "insufficient_quota", "param": None,
             "code": "insufficient_quota"}  # fmt: skip
    assert orjson.loads(body) == {"error": error}


def test_periods() -> None:
    assert period_start("day", NOW) == datetime(2026, 3, 15, tzinfo=UTC)
    assert period_start("week", NOW) == datetime(2026, 3, 9, tzinfo=UTC)  # a Monday
    assert period_start("month", NOW) == datetime(2026, 3, 1, tzinfo=UTC)
    assert period_start("total", NOW).year == 1970


def test_key_cache_keeps_serving_when_the_ledger_is_down() -> None:
    key, secret = new_key("ada", "ml", "boss", None, now=NOW)
    up = [True]

    def load() -> list[GatewayKey]:
        if not up[0]:
            raise LedgerError("cannot connect to the ledger")
        return [key]

    cache = KeyCache(load)
    assert cache.refresh()
    up[0] = False
    assert not cache.refresh()
    assert cache.get(hash_secret(secret)) == key


def test_a_gateway_started_while_the_ledger_is_down_serves_the_saved_keys(
    tmp_path: Path,
) -> None:
    key, secret = new_key("ada", "ml", "boss", date(2030, 1, 1), now=NOW)
    revoked, _ = new_key("bob", "ml", "boss", None, now=NOW)
    revoked = replace(revoked, revoked_at=NOW)
    snapshot = tmp_path / "home" / "keys.json"
    assert KeyCache(lambda: [key, revoked], snapshot=snapshot).refresh()
    assert snapshot.stat().st_mode & 0o777 == 0o600
    assert secret not in snapshot.read_text()  # hashes and grants only

    def down() -> list[GatewayKey]:
        raise LedgerError("cannot connect to the ledger")

    restarted = KeyCache(down, snapshot=snapshot)
    assert not restarted.refresh()
    assert restarted.get(hash_secret(secret)) == key
    assert restarted.get(revoked.key_hash) == revoked  # still revoked: the grant came along
    assert KeyCache(down, snapshot=tmp_path / "none.json").refresh() is False  # nothing saved


def test_a_failed_lookup_is_not_retried_at_once() -> None:
    calls: list[str] = []

    def find(key_hash: str) -> GatewayKey | None:
        calls.append(key_hash)
        raise LedgerError("cannot connect to the ledger")

    cache = KeyCache(list, find)
    cache.fetch("sha256:someone")
    cache.fetch("sha256:someone")
    assert calls == ["sha256:someone"]
    assert not cache.known("sha256:someone")


def test_key_cache_fetches_new_keys_and_remembers_misses() -> None:
    key, secret = new_key("ada", "ml", "boss", None, now=NOW)
    calls: list[str] = []

    def find(key_hash: str) -> GatewayKey | None:
        calls.append(key_hash)
        return key if key_hash == key.key_hash else None

    cache = KeyCache(list, find)
    cache.fetch(hash_secret(secret))
    assert cache.known(key.key_hash)
    cache.fetch("sha256:forged")
    cache.fetch("sha256:forged")
    assert calls == [key.key_hash, "sha256:forged"]


def test_teams_config_is_validated_with_every_error(tmp_path: Path) -> None:
    path = tmp_path / "distillguard.toml"
    path.write_text(
        '[teams.ml]\nvendors = ["anthropic"]\nmodels = ["claude-*"]\nbudget_usd = 50\n'
        'key_budget_usd = 5\nperiod = "week"\nunpriced = "refuse"\n'
        '[gateway]\nprices = "my-prices.toml"\n'
    )
    with pytest.raises(ConfigError, match="no price table at"):
        load_settings(path, env={})
    (tmp_path / "my-prices.toml").write_text('version = "mine"\n')
    settings = load_settings(path, env={})
    ml = Team("ml", ("anthropic",), ("claude-*",), 50.0, 5.0, "week", unpriced="refuse")
    assert settings.teams["ml"] == ml
    assert settings.prices_path == tmp_path / "my-prices.toml"
    assert set(settings.upstreams) == {"anthropic", "openai", "gemini"}  # the defaults
    path.write_text(
        '[teams.ml]\nvendors = "anthropic"\nbudget_usd = -1\nperiod = "year"\nbudgets = 3\n'
        '[teams.web]\nkey_budget_usd = true\nunpriced = "free"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    for expected in ("[teams.ml] vendors: must be a list of vendor names",
                     "[teams.ml] budget_usd: -1: must be 0 or more",
                     "[teams.ml] period: 'year': must be one of day, week, month, total",
                     "[teams.ml] budgets: unknown key (did you mean budget_usd?)",
                     "[teams.web] key_budget_usd: True is not a finite number",
                     "[teams.web] unpriced: 'free': must be one of estimate, refuse"):  # fmt: skip
        assert expected in message
