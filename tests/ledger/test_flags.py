"""The output flags ``usage_estimated`` and ``unparsed`` (migration 006): stored, in the
chain for new records, absent from the hash of records written before they existed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, Table, create_engine, update

from distillguard.errors import InputError
from distillguard.ledger import Ledger, chain, migrations
from distillguard.ledger.schema import FLAG_COLUMNS, outputs
from tests.ledger.factory import T0, new_output

USAGE: dict[str, Any] = {"input_tokens": 100, "output_tokens": 40, "cost_usd": 0.001}


def _set(url: str, seq: int, **values: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(update(outputs).where(outputs.c.seq == seq).values(**values))
    finally:
        engine.dispose()


def test_flags_round_trip_and_verify(ledger: Ledger) -> None:
    ledger.record_many(
        [
            new_output(1),
            new_output(2, usage_estimated=True, **USAGE),
            new_output(3, unparsed=True),
        ]
    )
    stored = {o.seq: o for o in ledger.iter_outputs(with_text=False)}
    assert [(o.usage_estimated, o.unparsed) for o in stored.values()] == [
        (False, False),
        (True, False),
        (False, True),
    ]
    assert ledger.get(stored[2].id).usage_estimated is True  # type: ignore[union-attr]
    assert ledger.verify().ok


@pytest.mark.parametrize(("seq", "column", "value"), [(1, "usage_estimated", True),
                                                      (2, "usage_estimated", False),
                                                      (3, "unparsed", False),
                                                      (1, "unparsed", True)])  # fmt: skip
def test_a_flipped_flag_is_detected(
    ledger: Ledger, ledger_url: str, seq: int, column: str, value: bool
) -> None:
    ledger.record_many(
        [new_output(1), new_output(2, usage_estimated=True), new_output(3, unparsed=True)]
    )
    _set(ledger_url, seq, **{column: value})
    report = ledger.verify()
    assert not report.ok and report.problems[0].startswith(f"seq {seq} (")


def test_false_flags_hash_like_records_without_them() -> None:
    record = {name: None for name in chain.FIELDS} | {
        "seq": 1, "id": "out_x", "idempotency_key": "k", "vendor": "v", "model": "m",
        "created_at": T0, "content_hash": "sha256:00",
    }  # fmt: skip
    assert chain.canonical(record | dict.fromkeys(FLAG_COLUMNS, False)) == chain.canonical(record)
    assert chain.canonical(record | {"unparsed": True}) != chain.canonical(record)


@pytest.mark.parametrize("value", [1, "yes", None])
def test_a_flag_that_is_not_a_bool_is_refused(ledger: Ledger, value: object) -> None:
    with pytest.raises(InputError, match="usage_estimated must be true or false"):
        ledger.record(new_output(1, usage_estimated=value))


def test_a_ledger_written_before_the_flags_still_verifies(ledger_url: str) -> None:
    if ledger_url.startswith("sqlite:///"):
        Path(ledger_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    before = [c for c in outputs.c if c.name not in FLAG_COLUMNS]
    old = Table("outputs", MetaData(), *(Column(c.name, c.type) for c in before))
    engine = create_engine(ledger_url)
    try:
        with engine.begin() as conn:
            migrations.apply(conn, migrations.STEPS[:5])
            conn.execute(old.insert(), _rows_as_of_005(3, [c.name for c in before]))
    finally:
        engine.dispose()
    with Ledger(ledger_url) as led:  # applies 006: every old output reads false, false
        assert led.verify().ok
        assert {(o.usage_estimated, o.unparsed) for o in led.iter_outputs()} == {(False, False)}
        led.record(new_output(4, usage_estimated=True, **USAGE))
        assert led.verify().ok and led.count() == 4
    _set(ledger_url, 2, unparsed=True)  # an old record marked afterwards no longer verifies
    with Ledger(ledger_url) as led:
        assert [p.split(" (")[0] for p in led.verify().problems] == ["seq 2"]


def _rows_as_of_005(n: int, names: list[str]) -> list[dict[str, Any]]:
    """Rows as a ledger before 006 wrote them: hashed without the flags."""
    rows, prev = [], chain.GENESIS
    for seq in range(1, n + 1):
        new = new_output(seq, created_at=T0 + timedelta(minutes=seq), **USAGE)
        key = new.idempotency_key()
        row = {name: getattr(new, name, None) for name in names}
        row |= {"seq": seq, "id": chain.output_id(key), "idempotency_key": key}
        row |= {"content_hash": new.content_hash(), "prev_hash": prev}
        prev = row["chain_hash"] = chain.link(prev, row)
        rows.append(row)
    return rows


def test_usage_counts_estimated_outputs_and_tokens(ledger: Ledger) -> None:
    ledger.record_many(
        [
            new_output(1, **USAGE),
            new_output(2, usage_estimated=True, input_tokens=7, output_tokens=5),
            new_output(3, usage_estimated=True, output_tokens=11),
            new_output(4, team="infra", **USAGE),
        ]
    )
    rows = {row.group: row for row in ledger.usage("team")}
    assert (rows["ml"].outputs, rows["ml"].estimated, rows["ml"].estimated_tokens) == (3, 2, 23)
    assert (rows["infra"].estimated, rows["infra"].estimated_tokens) == (0, 0)


def test_usage_until_excludes_later_outputs(ledger: Ledger) -> None:
    ledger.record_many(new_output(i, **USAGE) for i in range(1, 5))  # T0 + i seconds
    (row,) = ledger.usage("team", since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=4))
    assert row.outputs == 2


def test_models_lists_every_pair_with_its_counts(ledger: Ledger) -> None:
    ledger.record_many(
        [
            new_output(1, **USAGE),
            new_output(2),
            new_output(3, vendor="openai", model="gpt-6.2-sol", **USAGE),
        ]
    )
    seen = [(m.vendor, m.model, m.outputs, m.with_usage) for m in ledger.models()]
    assert seen == [("anthropic", "claude-sonnet-4", 2, 1), ("openai", "gpt-6.2-sol", 1, 1)]
