"""The hash chain: pure encoding tests, and tampering with a real ledger behind its back."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update

from distillguard.errors import InputError
from distillguard.ledger import Ledger, anchor, chain
from distillguard.ledger.schema import outputs
from distillguard.model import content_hash
from tests.ledger.factory import new_output, raw_sql

N = 10


def _record(seq: int, **overrides: Any) -> dict[str, Any]:
    text = f"text {seq}"
    record: dict[str, Any] = {
        name: None for name in chain.FIELDS
    } | {
        "seq": seq, "id": chain.output_id(f"k{seq}"), "idempotency_key": f"k{seq}",
        "vendor": "v", "model": "m", "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "content_hash": content_hash(text), "text": text,
    }  # fmt: skip
    return record | overrides


def _chain(n: int) -> list[dict[str, Any]]:
    prev, rows = chain.GENESIS, []
    for seq in range(1, n + 1):
        row = _record(seq, prev_hash=prev)
        prev = row["chain_hash"] = chain.link(prev, row)
        rows.append(row)
    return rows


def _verify(rows: list[dict[str, Any]], expect_head: str | None = None) -> chain.VerifyReport:
    verifier = chain.Verifier(None if expect_head is None else chain.parse_head(expect_head))
    for row in rows:
        verifier.feed(row)
    problems = tuple(verifier.finish())
    head = chain.format_head(*verifier.tail)
    return chain.VerifyReport(not problems, verifier.records, head, problems)


# --- pure ----------------------------------------------------------------------------------


def test_canonical_json_is_sorted_compact_and_names_digests() -> None:
    record = _record(1, request="héllo", fingerprints=b"\x00\x01")
    doc = json.loads(chain.canonical(record))
    assert list(doc) == sorted(chain.FIELDS)
    assert b" " not in chain.canonical(_record(1))
    assert doc["created_at"] == "2025-01-01T00:00:00.000000Z"
    assert doc["request"].startswith("sha256:") and doc["fingerprints"].startswith("sha256:")
    assert "text" not in doc  # committed through content_hash, which verify checks


@pytest.mark.parametrize("name", [f for f in chain.FIELDS if f != "created_at"])
def test_every_field_changes_the_link(name: str) -> None:
    record = _record(1, request="r", fingerprints=b"f")
    changed = record | {name: 2 if name == "seq" else (b"g" if name == "fingerprints" else "x")}
    assert chain.link(chain.GENESIS, changed) != chain.link(chain.GENESIS, record)


def test_link_depends_on_prev_and_time() -> None:
    record = _record(1)
    later = record | {"created_at": datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC)}
    assert chain.link(chain.GENESIS, later) != chain.link(chain.GENESIS, record)
    assert chain.link("sha256:" + "0" * 64, record) != chain.link(chain.GENESIS, record)
    assert chain.link(chain.GENESIS, record).startswith("sha256:")


@pytest.mark.parametrize("head", ["", "3", "x:sha256:" + "a" * 64, "3:md5:abc", "3:sha256:xyz"])
def test_parse_head_rejects_what_is_not_a_head(head: str) -> None:
    with pytest.raises(ValueError, match="not a ledger head"):
        chain.parse_head(head)


def test_parse_head() -> None:
    assert chain.parse_head(f" 12:{chain.GENESIS}\n") == (12, chain.GENESIS)


def test_pure_chain_verifies_and_caps_the_problem_list() -> None:
    rows = _chain(1200)
    assert _verify(rows).ok
    report = _verify([row | {"vendor": "forged"} for row in rows])
    assert not report.ok and len(report.problems) == chain.MAX_PROBLEMS + 1
    assert report.problems[-1] == f"... and {1200 - chain.MAX_PROBLEMS} more problems"


def test_unknown_hash_algorithm_is_a_problem() -> None:
    rows = _chain(3)
    rows[2]["chain_hash"] = "md5:0123"
    assert "unknown chain hash algorithm" in _verify(rows).problems[0]


# --- tampering with a real ledger ----------------------------------------------------------


@pytest.fixture
def filled(ledger: Ledger) -> Ledger:
    ledger.record_many(
        new_output(i, request=f"r{i}", fingerprints=bytes([i]) * 8) for i in range(N)
    )
    return ledger


def _problems_about(report: chain.VerifyReport, seq: int) -> list[str]:
    return [p for p in report.problems if f"seq {seq}" in p]


def test_untouched_ledger_verifies(filled: Ledger) -> None:
    report = filled.verify(expect_head=filled.head())
    assert report == chain.VerifyReport(True, N, filled.head(), ())


def test_altered_text_is_detected(filled: Ledger, ledger_url: str) -> None:
    raw_sql(ledger_url, "UPDATE outputs SET text = 'harmless' WHERE seq = 3")
    report = filled.verify()
    victim = next(o for o in filled.iter_outputs() if o.seq == 3)
    assert not report.ok
    assert report.problems == (
        f"seq 3 ({victim.id}): text altered (it does not match its content hash)",
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("vendor", "internal-model"),
        ("model", "other"),
        ("tool", "manual"),
        ("actor", None),
        ("team", "other"),
        ("purpose", "x"),
        ("created_at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("request", "r3 edited"),
        ("source_id", "s"),
        ("message_id", "m"),
        ("fingerprints", b"\x09" * 8),
        ("fp_config", "other"),
        ("content_hash", "sha256:" + "0" * 64),
        ("idempotency_key", "forged"),
        ("id", "out_" + "0" * 24),
    ],
)
def test_any_altered_field_is_detected(
    filled: Ledger, ledger_url: str, column: str, value: object
) -> None:
    _update(ledger_url, 4, **{column: value})
    report = filled.verify()
    assert not report.ok
    assert _problems_about(report, 4) and not _problems_about(report, 5)
    assert all(p.startswith("seq 4 (") for p in report.problems)


def test_text_altered_together_with_its_hash_breaks_the_chain(
    filled: Ledger, ledger_url: str
) -> None:
    _update(ledger_url, 4, text="evil", content_hash=content_hash("evil"))
    report = filled.verify()
    assert len(report.problems) == 1
    assert report.problems[0].startswith("seq 4 (") and "record altered" in report.problems[0]


def test_deleted_record_is_detected(filled: Ledger, ledger_url: str) -> None:
    raw_sql(ledger_url, "DELETE FROM outputs WHERE seq IN (5, 6)")
    report = filled.verify()
    assert not report.ok and report.records == N - 2
    assert report.problems[0].startswith("seq 5..6 missing: removed before seq 7 (")


def test_reordered_records_are_detected(filled: Ledger, ledger_url: str) -> None:
    raw_sql(
        ledger_url,
        "UPDATE outputs SET seq = -1 WHERE seq = 2",
        "UPDATE outputs SET seq = 2 WHERE seq = 3",
        "UPDATE outputs SET seq = 3 WHERE seq = -1",
    )
    report = filled.verify()
    assert not report.ok
    assert _problems_about(report, 2) and _problems_about(report, 3)
    assert _problems_about(report, 4) == [
        f"seq 4 ({_row_of(filled, 4)['id']}): prev_hash does not link to seq 3 "
        "(a record was removed, inserted or reordered)"
    ]
    assert not _problems_about(report, 5)


def test_forged_record_at_the_tail_is_detected(filled: Ledger, ledger_url: str) -> None:
    seq, head_hash = anchor.parse_head(filled.head()).outputs
    forged = _row_of(filled, 1) | {
        "seq": seq + 1, "id": "out_forged", "idempotency_key": "forged",
        "prev_hash": head_hash, "chain_hash": "sha256:" + "f" * 64,
    }  # fmt: skip
    _insert(ledger_url, forged)
    report = filled.verify()
    assert [p.split(" (")[0] for p in report.problems] == [f"seq {N + 1}"] * 2


def test_forged_record_with_a_valid_hash_breaks_the_next_link(
    filled: Ledger, ledger_url: str
) -> None:
    original = _row_of(filled, 5)
    forged = original | {"text": "forged", "content_hash": content_hash("forged")}
    forged["chain_hash"] = chain.link(forged["prev_hash"], forged)
    raw_sql(ledger_url, "DELETE FROM outputs WHERE seq = 5")
    _insert(ledger_url, forged)
    report = filled.verify()
    assert len(report.problems) == 1
    assert (
        report.problems[0].startswith("seq 6 (") and "does not link to seq 5" in report.problems[0]
    )


def test_cut_off_tail_is_detected_with_the_expected_head(filled: Ledger, ledger_url: str) -> None:
    anchored = filled.head()
    raw_sql(ledger_url, f"DELETE FROM outputs WHERE seq > {N - 2}")
    assert filled.verify().ok  # without an anchor, a clean cut is invisible
    report = filled.verify(expect_head=anchored)
    assert not report.ok
    assert report.problems == (
        f"expected head seq {N} but the ledger ends at seq {N - 2}: "
        f"the tail was cut off (seq {N - 1}..{N} missing)",
    )


def test_rewritten_tail_is_detected_with_the_expected_head(filled: Ledger, ledger_url: str) -> None:
    anchored = filled.head()
    rows = [_row_of(filled, seq) for seq in range(1, N + 1)]
    rows[6] |= {"vendor": "internal"}
    for prev, row in itertools.pairwise(rows):
        if row["seq"] >= 7:
            row["prev_hash"] = prev["chain_hash"]
            row["chain_hash"] = chain.link(row["prev_hash"], row)
    for row in rows[6:]:
        _update(
            ledger_url, row["seq"], **{k: row[k] for k in ("vendor", "prev_hash", "chain_hash")}
        )
    assert filled.verify().ok  # a consistent rewrite needs the anchor to be caught
    report = filled.verify(expect_head=anchored)
    assert report.problems == (
        f"seq {N} ({rows[-1]['id']}): chain hash differs from the expected head",
    )


def test_an_older_anchor_still_verifies_after_appends(filled: Ledger) -> None:
    anchored = filled.head()
    filled.record(new_output(100))
    assert filled.verify(expect_head=anchored).ok


def test_malformed_expected_head_is_an_input_error(filled: Ledger) -> None:
    with pytest.raises(InputError, match="not a ledger head"):
        filled.verify(expect_head="yesterday")


def _row_of(ledger: Ledger, seq: int) -> dict[str, Any]:
    engine = create_engine(_url(ledger))
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(outputs).where(outputs.c.seq == seq)).mappings().one())
    finally:
        engine.dispose()


def _update(url: str, seq: int, **values: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(update(outputs).where(outputs.c.seq == seq).values(**values))
    finally:
        engine.dispose()


def _insert(url: str, row: dict[str, Any]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(outputs.insert().values(**row))
    finally:
        engine.dispose()


def _url(ledger: Ledger) -> str:
    return ledger._url.render_as_string(hide_password=False)


@pytest.mark.parametrize(
    ("column", "value"), [("text", 42), ("vendor", 7), ("fingerprints", "not bytes")]
)
def test_values_of_the_wrong_type_are_reported_not_raised(
    tmp_path: Path, column: str, value: object
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"  # SQLite stores any type in any column
    with Ledger(url) as ledger:
        ledger.record_many(new_output(i) for i in range(5))
        raw_sql(url, f"UPDATE outputs SET {column} = :value WHERE seq = 3", value=value)
        report = ledger.verify()
    assert not report.ok and report.records == 5
    assert [p.split(" (")[0] for p in report.problems] == ["seq 3"]


def test_an_undecodable_value_spoils_only_its_own_record(ledger: Ledger, ledger_url: str) -> None:
    """A garbage created_at ('yesterday' on SQLite; 'infinity', which Python cannot hold, on
    PostgreSQL) is that record's problem: the records after it are still verified."""
    ledger.record_many(new_output(i) for i in range(5000))
    garbage = "infinity" if ledger_url.startswith("postgresql") else "yesterday"
    raw_sql(ledger_url, f"UPDATE outputs SET created_at = '{garbage}' WHERE seq IN (3, 2500)")
    raw_sql(ledger_url, "UPDATE outputs SET vendor = 'forged' WHERE seq = 4999")
    report = ledger.verify()
    assert report.records == 5000
    assert [p.split(" (")[0] for p in report.problems] == ["seq 3", "seq 2500", "seq 4999"]
    assert "a stored value cannot be read" in report.problems[0]
    assert garbage in report.problems[0]
    assert "fields do not match its chain hash" in report.problems[2]
