"""The gateway's part of the ledger: usage fields in the chain, the 002 migration, keys, spend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, Table, create_engine, update

from distillguard.errors import InputError
from distillguard.ledger import Ledger, chain, migrations
from distillguard.ledger.schema import outputs
from distillguard.model import GatewayKey
from tests.ledger.factory import T0, new_output

USAGE: dict[str, Any] = {
    "input_tokens": 1200,
    "output_tokens": 340,
    "cache_read_tokens": 5000,
    "cache_write_tokens": 700,
    "reasoning_tokens": 20,
    "cost_usd": 0.012345,
    "price_version": "2026-01",
    "upstream": "anthropic",
    "key_id": "key_1",
}


def _update(url: str, seq: int, **values: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(update(outputs).where(outputs.c.seq == seq).values(**values))
    finally:
        engine.dispose()


def test_usage_fields_round_trip_and_verify(ledger: Ledger) -> None:
    ledger.record_many([new_output(1), new_output(2, **USAGE), new_output(3)])
    stored = {o.seq: o for o in ledger.iter_outputs()}
    assert {name: getattr(stored[2], name) for name in USAGE} == USAGE
    assert stored[1].cost_usd is None and stored[1].input_tokens is None
    assert ledger.verify().ok


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("input_tokens", 1),
        ("output_tokens", None),
        ("cache_read_tokens", 0),
        ("cost_usd", 0.0),
        ("price_version", "forged"),
        ("key_id", "key_2"),
        ("upstream", None),
    ],
)
def test_altered_usage_is_detected(
    ledger: Ledger, ledger_url: str, column: str, value: object
) -> None:
    ledger.record_many([new_output(1, **USAGE), new_output(2, **USAGE)])
    _update(ledger_url, 1, **{column: value})
    report = ledger.verify()
    assert not report.ok and report.problems[0].startswith("seq 1 (")


def test_usage_set_on_an_old_style_record_is_detected(ledger: Ledger, ledger_url: str) -> None:
    ledger.record_many([new_output(1), new_output(2)])
    _update(ledger_url, 2, cost_usd=1.5)
    assert not ledger.verify().ok


def test_records_without_usage_hash_as_before() -> None:
    record = {name: None for name in chain.FIELDS} | {
        "seq": 1, "id": "out_x", "idempotency_key": "k", "vendor": "v", "model": "m",
        "created_at": T0, "content_hash": "sha256:00",
    }  # fmt: skip
    with_nulls = record | dict.fromkeys(chain.EXTENSION_FIELDS)
    assert chain.canonical(with_nulls) == chain.canonical(record)
    assert chain.canonical(record | {"cost_usd": 0.0}) != chain.canonical(record)


def test_a_ledger_written_before_the_migration_still_verifies(ledger_url: str) -> None:
    if ledger_url.startswith("sqlite:///"):
        Path(ledger_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    old = Table("outputs", MetaData(), *(Column(c.name, c.type) for c in outputs.c if c.name in V1))
    engine = create_engine(ledger_url)
    try:
        with engine.begin() as conn:
            migrations.apply(conn, migrations.STEPS[:1])
            conn.execute(old.insert(), _old_rows(2))
    finally:
        engine.dispose()
    with Ledger(ledger_url) as led:  # applies 002
        assert led.verify().ok
        led.record(new_output(3, **USAGE))
        assert led.verify().ok and led.count() == 3


V1 = (*chain.FIELDS, "text", "prev_hash", "chain_hash")


def _old_rows(n: int) -> list[dict[str, Any]]:
    rows, prev = [], chain.GENESIS
    for seq in range(1, n + 1):
        new = new_output(seq)
        key = new.idempotency_key()
        row = {name: getattr(new, name, None) for name in V1}
        row |= {"seq": seq, "id": chain.output_id(key), "idempotency_key": key}
        row |= {"content_hash": new.content_hash(), "prev_hash": prev}
        prev = row["chain_hash"] = chain.link(prev, row)
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    ("field", "value"),
    [("input_tokens", -1), ("output_tokens", 1.5), ("cache_read_tokens", True), ("cost_usd", -2)],
)
def test_invalid_usage_is_refused(ledger: Ledger, field: str, value: object) -> None:
    with pytest.raises(InputError, match=field):
        ledger.record(new_output(1, **{field: value}))


def _key(i: int, **overrides: Any) -> GatewayKey:
    values: dict[str, Any] = {
        "id": f"key_{i}",
        "key_hash": f"sha256:{i:064x}",
        "actor": f"actor{i}",
        "team": "ml",
        "approved_by": "boss",
        "created_at": T0 + timedelta(seconds=i),
    }
    return GatewayKey(**(values | overrides))


def test_keys_are_added_found_listed_and_revoked(ledger: Ledger) -> None:
    until = datetime(2030, 1, 1, tzinfo=UTC)
    ledger.add_key(_key(1, expires_at=until))
    ledger.add_key(_key(2))
    found = ledger.find_key(_key(1).key_hash)
    assert found == _key(1, expires_at=until)
    assert ledger.find_key("sha256:" + "f" * 64) is None
    assert ledger.revoke_key("key_2") and not ledger.revoke_key("key_2")
    assert not ledger.revoke_key("key_404")
    listed = ledger.list_keys()
    assert [k.id for k in listed] == ["key_1", "key_2"]
    assert listed[1].revoked_at is not None and listed[0].revoked_at is None


def test_key_refusals() -> None:
    key = _key(1, expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert key.refusal(datetime(2029, 12, 31, tzinfo=UTC)) is None
    assert "ended on 2030-01-01" in (key.refusal(datetime(2030, 1, 1, tzinfo=UTC)) or "")
    revoked = _key(2, revoked_at=T0)
    assert "revoked" in (revoked.refusal(T0) or "")


def test_spend_and_usage(ledger: Ledger) -> None:
    day = timedelta(days=1)
    ledger.record_many(
        [
            new_output(1, team="ml", key_id="k1", cost_usd=1.0, input_tokens=10, output_tokens=5),
            new_output(2, team="ml", key_id="k2", cost_usd=2.5, input_tokens=1, output_tokens=2),
            new_output(3, team="web", key_id="k3", cost_usd=4.0, output_tokens=1),
            new_output(4, team="web", key_id="k3", model="mystery", output_tokens=7),
            new_output(5, team="ml", key_id="k1", cost_usd=8.0, created_at=T0 - day),
            new_output(6, team="ml"),  # recorded by hand: no usage
        ]
    )
    assert ledger.spend("team", T0) == {"ml": 3.5, "web": 4.0}
    assert ledger.spend("key_id", T0 - day) == {"k1": 9.0, "k2": 2.5, "k3": 4.0}
    rows = {row.group: row for row in ledger.usage("team", since=T0)}
    assert rows["ml"].outputs == 2 and rows["ml"].input_tokens == 11
    assert rows["ml"].cost_usd == 3.5 and rows["ml"].unpriced == 0
    assert rows["web"].unpriced == 1 and rows["web"].output_tokens == 8
    assert sum(row.outputs for row in ledger.usage("model")) == 5
    with pytest.raises(InputError, match="--by"):
        ledger.usage("text")
