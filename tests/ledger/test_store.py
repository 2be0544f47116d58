from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect

from distillguard.errors import InputError, LedgerError, MissingDependencyError
from distillguard.ledger import Ledger, VerifyReport
from distillguard.ledger import schema as ledger_schema
from distillguard.ledger.chain import GENESIS
from distillguard.ledger.journal import GENESIS as JOURNAL_GENESIS
from distillguard.ledger.migrations import STEPS
from distillguard.model import NewOutput, content_hash
from tests.ledger.factory import T0, new_output, raw_sql


def test_exports() -> None:
    import distillguard.ledger as package

    assert sorted(package.__all__) == ["Ledger", "VerifyReport"]
    assert VerifyReport.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_record_and_get_round_trip(ledger: Ledger) -> None:
    new = new_output(
        1,
        session="s-1",
        purpose="refactor",
        request="please refactor ünïcødé 🙂",
        source_id="chat-7",
        message_id="msg_01",
        fingerprints=bytes(range(256)) * 3,
        created_at=datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
    )
    recorded = ledger.record(new)
    assert recorded.created
    got = ledger.get(recorded.id)
    assert got is not None
    assert (got.id, got.seq) == (recorded.id, 1)
    for name in ("vendor", "model", "text", "tool", "actor", "team", "session", "purpose",
                 "request", "source_id", "message_id", "fingerprints", "fp_config"):  # fmt: skip
        assert getattr(got, name) == getattr(new, name), name
    assert got.created_at == datetime(2025, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert got.created_at.tzinfo == UTC
    assert got.content_hash == content_hash(new.text or "")
    assert got.idempotency_key == new.idempotency_key()


def test_output_id_is_derived_from_the_idempotency_key(ledger: Ledger) -> None:
    new = new_output(1)
    expected = "out_" + hashlib.sha256(new.idempotency_key().encode()).hexdigest()[:24]
    assert ledger.record(new).id == expected


def test_created_at_defaults_to_now_in_utc(ledger: Ledger) -> None:
    before = datetime.now(UTC)
    got = ledger.get(ledger.record(new_output(1, created_at=None)).id)
    assert got is not None
    assert before - timedelta(seconds=1) <= got.created_at <= datetime.now(UTC)


def test_naive_created_at_is_taken_as_utc(ledger: Ledger) -> None:
    got = ledger.get(ledger.record(new_output(1, created_at=datetime(2024, 2, 29, 23, 59))).id)
    assert got is not None and got.created_at == datetime(2024, 2, 29, 23, 59, tzinfo=UTC)


def test_fingerprints_only_mode(ledger: Ledger) -> None:
    new = new_output(
        1, text=None, text_hash="sha256:" + "ab" * 32, fingerprints=b"\x01" * 16, fp_config="fp:v1"
    )
    got = ledger.get(ledger.record(new).id)
    assert got is not None
    assert got.text is None and got.content_hash == "sha256:" + "ab" * 32
    assert (got.fingerprints, got.fp_config) == (b"\x01" * 16, "fp:v1")
    assert ledger.verify().ok
    assert [o.id for o in ledger.iter_outputs()] == [got.id]


def test_duplicate_returns_the_existing_id_and_adds_nothing(ledger: Ledger) -> None:
    first = ledger.record(new_output(1, source_id="a"))
    head = ledger.head()
    again = ledger.record(new_output(1, source_id="a", actor="someone else", created_at=T0))
    assert (again.id, again.created) == (first.id, False)
    assert ledger.count() == 1 and ledger.head() == head
    other_source = ledger.record(new_output(1, source_id="b"))
    assert other_source.created and other_source.id != first.id


def test_same_message_id_merges_into_one_output(ledger: Ledger) -> None:
    gateway = ledger.record(new_output(1, message_id="msg_42", tool="gateway"))
    transcript = ledger.record(new_output(1, message_id="msg_42", tool="transcript", text="x"))
    other_vendor = ledger.record(new_output(1, message_id="msg_42", vendor="openai"))
    assert transcript == type(transcript)(gateway.id, False)
    assert other_vendor.created and other_vendor.id != gateway.id
    assert ledger.count() == 2


def test_record_many_keeps_order_and_dedupes_within_and_across_batches(ledger: Ledger) -> None:
    ledger.record(new_output(2))
    items = [new_output(i) for i in (1, 2, 3, 1, 4, 3, 5)]
    results = ledger.record_many(items, batch_size=3)
    assert [r.created for r in results] == [True, False, True, False, True, False, True]
    ids = [ledger.record(new_output(i)).id for i in (1, 2, 3, 1, 4, 3, 5)]
    assert [r.id for r in results] == ids
    assert ledger.count() == 5 and ledger.max_seq() == 5
    assert [o.text for o in ledger.iter_outputs()] == [new_output(i).text for i in (2, 1, 3, 4, 5)]
    assert ledger.verify().ok


def test_record_many_accepts_a_generator_and_an_empty_input(ledger: Ledger) -> None:
    assert ledger.record_many(iter(())) == []
    with pytest.raises(ValueError, match="batch_size"):
        ledger.record_many([new_output(1)], batch_size=0)
    results = ledger.record_many((new_output(i) for i in range(25)), batch_size=10)
    assert len(results) == 25 and all(r.created for r in results)
    assert [o.seq for o in ledger.iter_outputs()] == list(range(1, 26))


def test_iter_outputs_pages_in_order(ledger: Ledger) -> None:
    ledger.record_many(new_output(i, request=f"req {i}") for i in range(23))
    outputs = list(ledger.iter_outputs(after_seq=5, batch_size=4))
    assert [o.seq for o in outputs] == list(range(6, 24))
    assert outputs[0].text == new_output(5).text and outputs[0].request == "req 5"
    light = list(ledger.iter_outputs(after_seq=20, with_text=False, batch_size=2))
    assert [o.seq for o in light] == [21, 22, 23]
    assert all(o.text is None and o.request is None for o in light)
    assert light[0].content_hash == content_hash(new_output(20).text or "")
    assert list(ledger.iter_outputs(after_seq=23)) == []


def test_empty_ledger(ledger: Ledger) -> None:
    assert ledger.count() == 0 and ledger.max_seq() == 0
    assert ledger.head() == f"0:{GENESIS}+0:{JOURNAL_GENESIS}"
    assert ledger.get("out_missing") is None
    assert list(ledger.iter_outputs()) == []
    assert ledger.verify() == VerifyReport(True, 0, f"0:{GENESIS}+0:{JOURNAL_GENESIS}", (), 0)


def test_head_names_the_last_record(ledger: Ledger) -> None:
    ledger.record_many(new_output(i) for i in range(3))
    outputs, journal = ledger.head().split("+")
    seq, chain_hash = outputs.split(":", 1)
    assert seq == "3" and chain_hash.startswith("sha256:") and len(chain_hash) == 71
    assert journal == f"0:{JOURNAL_GENESIS}"  # no edit or key written yet
    assert ledger.verify().head == ledger.head()


def test_migrations_apply_once_and_are_listed(ledger_url: str) -> None:
    Ledger(ledger_url).close()
    with Ledger(ledger_url) as led:
        led.record(new_output(1))
    with Ledger(ledger_url) as led:
        assert led.count() == 1
    engine = create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(ledger_schema.migrations.select()).all()
            columns = {c["name"] for c in inspect(conn).get_columns("outputs")}
    finally:
        engine.dispose()
    assert [row.name for row in rows] == [name for name, _ in STEPS]
    assert columns == {c.name for c in ledger_schema.outputs.c}


def test_sqlite_parent_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ledger.db"
    with Ledger(f"sqlite:///{path}") as led:
        assert led.url_for_display == f"sqlite:///{path}"
    assert path.is_file()


def test_url_for_display_masks_the_password() -> None:
    url = "postgresql+psycopg://dg:s3cret@127.0.0.1:1/ledger"
    with pytest.raises(LedgerError) as info:
        Ledger(url)
    message = str(info.value)
    assert message.startswith("cannot connect to the ledger at postgresql+psycopg://dg:***@")
    assert "s3cret" not in message


@pytest.mark.parametrize("url", ["mysql://u:p@host/db", "not a url", "postgresql+asyncpg://u@h/db"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(LedgerError, match="ledger"):
        Ledger(url)


def test_missing_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingDependencyError, match=r"distillguard\[postgres\]"):
        Ledger("postgresql+psycopg://postgres@127.0.0.1/x")


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="cannot connect to the ledger at sqlite:///"):
        Ledger(f"sqlite:///{path}")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vendor": ""}, "non-empty vendor"),
        ({"model": "  "}, "non-empty model"),
        ({"text": None}, "needs text_hash"),
        ({"text": None, "text_hash": "abc"}, "naming its algorithm"),
        ({"text": None, "text_hash": "sha256:ab"}, "needs its fingerprints and fp_config"),
        ({"text": None, "text_hash": "sha256:ab", "fingerprints": b"x"}, "and fp_config"),
        ({"fp_config": "fp:v1"}, "keeps its text or, fingerprints-only, .*: not both"),
        ({"input_tokens": 2**63}, "input_tokens must be an integer from 0 to 2\\^63-1"),
        ({"reasoning_tokens": -1}, "reasoning_tokens must be an integer"),
        ({"created_at": datetime.fromisoformat("0001-01-01T00:00:00+01:00")}, "out of range"),
        ({"text": "bad \ud800 surrogate"}, "lone surrogate"),
        ({"actor": "\udfff"}, "actor is not valid Unicode"),
    ],
)
def test_invalid_outputs_raise_input_error(
    ledger: Ledger, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        ledger.record(new_output(1, **overrides))
    assert ledger.count() == 0


def test_nul_characters(ledger: Ledger, ledger_url: str) -> None:
    new = new_output(1, text="a\x00b")
    if ledger_url.startswith("postgresql"):
        with pytest.raises(InputError, match=r"NUL character .* PostgreSQL cannot store"):
            ledger.record(new)
        assert ledger.count() == 0
    else:
        got = ledger.get(ledger.record(new).id)
        assert got is not None and got.text == "a\x00b"


_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=300)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_TEXT, request=st.none() | _TEXT, team=st.none() | _TEXT.filter(bool))
def test_round_trip_of_arbitrary_text(
    ledger: Ledger, text: str, request: str | None, team: str | None
) -> None:
    # One ledger serves every example: a repeated text is a duplicate, which is fine here.
    new = NewOutput(vendor="v", model="m", text=text, request=request, team=team)
    recorded = ledger.record(new)
    got = ledger.get(recorded.id)
    assert got is not None
    assert (got.text, got.content_hash) == (text, content_hash(text))
    if recorded.created:
        assert (got.request, got.team) == (request, team)
    assert ledger.verify().ok


def test_a_bad_output_stops_record_many_after_the_batches_before_it(ledger: Ledger) -> None:
    items = [new_output(0), new_output(1), new_output(2), new_output(3, vendor="")]
    with pytest.raises(InputError, match="non-empty vendor"):
        ledger.record_many(items, batch_size=2)
    assert ledger.count() == 2  # the first batch was committed; retrying is idempotent
    assert [r.created for r in ledger.record_many(items[:3])] == [False, False, True]


def test_database_errors_become_ledger_errors(ledger: Ledger, ledger_url: str) -> None:
    raw_sql(ledger_url, "DROP TABLE outputs")
    with pytest.raises(LedgerError, match=r"cannot write to the ledger at .*outputs"):
        ledger.record(new_output(1))
    with pytest.raises(LedgerError, match="cannot read the ledger at"):
        ledger.count()


def test_a_constraint_violation_while_inserting_is_a_ledger_error(
    ledger: Ledger, ledger_url: str
) -> None:
    ledger.record(new_output(1))
    victim_id = ledger.record(new_output(2)).id
    raw_sql(ledger_url, "UPDATE outputs SET idempotency_key = 'moved' WHERE id = :id", id=victim_id)
    with pytest.raises(LedgerError, match=r"cannot write to the ledger at .*(unique|UNIQUE)"):
        ledger.record(new_output(2))  # its key looks new, but its id is taken
    assert ledger.count() == 2
