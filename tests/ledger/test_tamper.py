"""Tampering with what sits beside the outputs' chain, and with outputs' text, behind the
ledger's back: each change is reported by ``verify`` (and a tampered key is not served)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from distillguard.capture.gateway.keys import hash_secret
from distillguard.errors import TamperError
from distillguard.index.build import IndexBuilder
from distillguard.ledger import Ledger, anchor, migrations
from distillguard.ledger.chain import VerifyReport
from distillguard.ledger.edits import Edit, edits
from distillguard.ledger.schema import gateway_keys, outputs
from distillguard.ledger.schema import journal as journal_table
from distillguard.model import GatewayKey
from tests.ledger.factory import T0, change_rows, new_output, raw_sql, rows_of, write_rows

N = 5


def _edit(i: int, **overrides: Any) -> Edit:
    fields: dict[str, Any] = {
        "output_id": f"out_{i:024x}", "vendor": "anthropic", "model": "claude-x",
        "tool": "claude-code", "path": f"/repo/src/m{i}.py", "added": f"x_{i} = {i}\n",
        "removed": "old\n", "tool_name": "Edit", "call_id": f"toolu_{i}", "source": "hook",
        "created_at": T0 + timedelta(seconds=i),
    }  # fmt: skip
    return Edit(**(fields | overrides))


def _key(i: int, **overrides: Any) -> GatewayKey:
    fields: dict[str, Any] = {
        "id": f"key_{i}", "key_hash": hash_secret(f"secret-{i}"), "actor": f"actor{i}",
        "team": "ml", "approved_by": "boss", "created_at": T0 + timedelta(seconds=i),
        "expires_at": datetime(2030, 1, 1, tzinfo=UTC),
    }  # fmt: skip
    return GatewayKey(**(fields | overrides))


def _edit_row(edit: Edit) -> dict[str, Any]:
    """The row of ``edit`` as the ledger writes it."""
    row = {c.name: getattr(edit, c.name) for c in edits.c if c.name != "idempotency_key"}
    return row | {"idempotency_key": edit.idempotency_key()}


def _where(report: VerifyReport, prefix: str) -> list[str]:
    return [p for p in report.problems if p.startswith(prefix)]


# --- an output's text ------------------------------------------------------------------------


def test_text_set_to_null_is_detected(ledger: Ledger, ledger_url: str) -> None:
    ledger.record_many(new_output(i) for i in range(N))
    victim = rows_of(ledger_url, outputs, seq=3)[0]
    raw_sql(ledger_url, "UPDATE outputs SET text = NULL WHERE seq = 3")
    report = ledger.verify()
    assert report.problems == (
        f"seq 3 ({victim['id']}): text removed (it is NULL, yet the record keeps no "
        "fingerprints and settings, as a fingerprints-only record does)",
    )


def test_text_set_to_null_is_detected_even_where_fingerprints_were_kept(
    ledger: Ledger, ledger_url: str
) -> None:
    ledger.record(new_output(1, fingerprints=b"\x01" * 8))  # text and fingerprints, no settings
    raw_sql(ledger_url, "UPDATE outputs SET text = NULL")
    assert _where(ledger.verify(), "seq 1 (")[0].endswith("as a fingerprints-only record does)")


def test_a_fingerprints_only_output_verifies(ledger: Ledger) -> None:
    ledger.record(
        new_output(1, text=None, text_hash="sha256:" + "ab" * 32, fingerprints=b"", fp_config="fp")
    )
    assert ledger.verify().ok


def test_index_build_names_the_output_whose_text_was_removed(
    ledger: Ledger, ledger_url: str, tmp_path: Path
) -> None:
    ledger.record_many(new_output(i) for i in range(N))
    victim = rows_of(ledger_url, outputs, seq=2)[0]["id"]
    raw_sql(ledger_url, "UPDATE outputs SET text = NULL WHERE seq = 2")
    with pytest.raises(TamperError) as info:
        IndexBuilder(ledger, tmp_path / "index").build()
    message = str(info.value)
    assert f"output {victim} (seq 2) has no text" in message
    assert "its text was removed" in message and "fingerprint settings" not in message


# --- edits -----------------------------------------------------------------------------------


@pytest.fixture
def with_edits(ledger: Ledger) -> Ledger:
    assert ledger.record_edits(_edit(i) for i in range(N)) == [True] * N
    return ledger


def test_edits_are_journaled_and_verify(with_edits: Ledger) -> None:
    report = with_edits.verify()
    assert report.ok and report.journal == N
    assert with_edits.record_edits([_edit(0)]) == [False]  # a duplicate journals nothing
    assert with_edits.verify().journal == N


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("path", "/repo/tests/test_m2.py"),
        ("added", "harmless = True\n"),
        ("removed", None),
        ("output_id", "out_" + "0" * 24),
        ("vendor", "internal-model"),
        ("created_at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("source", None),
    ],
)
def test_any_change_to_an_edit_is_detected(
    with_edits: Ledger, ledger_url: str, column: str, value: object
) -> None:
    victim = _edit(2).id
    change_rows(ledger_url, edits, {"id": victim}, **{column: value})
    assert with_edits.verify().problems == (
        f"edits {victim}: altered (it does not match journal seq 3)",
    )


def test_a_removed_edit_is_detected(with_edits: Ledger, ledger_url: str) -> None:
    raw_sql(ledger_url, "DELETE FROM edits WHERE id = :id", id=_edit(1).id)
    assert with_edits.verify().problems == (
        f"edits {_edit(1).id}: removed (it was journaled at journal seq 2)",
    )


def test_an_edit_inserted_behind_the_ledgers_back_is_detected(
    with_edits: Ledger, ledger_url: str
) -> None:
    forged = _edit(9)
    write_rows(ledger_url, edits, [_edit_row(forged)])
    assert with_edits.verify().problems == (
        f"edits {forged.id}: not in the journal (written behind the ledger's back)",
    )


def test_an_undecodable_edit_spoils_only_itself(with_edits: Ledger, ledger_url: str) -> None:
    garbage = "infinity" if ledger_url.startswith("postgresql") else "yesterday"
    raw_sql(ledger_url, f"UPDATE edits SET created_at = '{garbage}' WHERE id = :id", id=_edit(1).id)
    change_rows(ledger_url, edits, {"id": _edit(3).id}, path="/elsewhere.py")
    problems = with_edits.verify().problems
    assert len(problems) == 2
    assert f"edits {_edit(1).id}: altered (a stored value cannot be read" in problems[0]
    assert garbage in problems[0]
    assert f"edits {_edit(3).id}: altered (it does not match" in "\n".join(problems)


# --- gateway keys and their grants ------------------------------------------------------------


@pytest.fixture
def with_keys(ledger: Ledger) -> Ledger:
    for i in range(3):
        ledger.add_key(_key(i))
    assert ledger.revoke_key("key_1")
    return ledger


def test_keys_are_journaled_and_verify(with_keys: Ledger) -> None:
    report = with_keys.verify()
    assert report.ok and report.journal == 4  # three keys created, one revoked
    assert [k.id for k in with_keys.list_keys()] == ["key_0", "key_1", "key_2"]


@pytest.mark.parametrize(
    ("victim", "values"),
    [
        ("key_1", {"revoked_at": None}),  # un-revoked
        ("key_0", {"team": "finance"}),  # another team's budget and rules
        ("key_0", {"actor": "mallory"}),
        ("key_2", {"approved_by": "nobody"}),
        ("key_2", {"expires_at": datetime(2099, 1, 1, tzinfo=UTC)}),  # the grant extended
        ("key_2", {"expires_at": None}),
        ("key_0", {"key_hash": hash_secret("a secret the tamperer knows")}),
    ],
)
def test_any_change_to_a_key_is_detected_and_the_key_is_not_served(
    with_keys: Ledger, ledger_url: str, victim: str, values: dict[str, Any]
) -> None:
    change_rows(ledger_url, gateway_keys, {"id": victim}, **values)
    (problem,) = with_keys.verify().problems
    assert problem.startswith(f"gateway_keys {victim}: altered (it does not match journal seq ")
    assert victim not in [k.id for k in with_keys.list_keys()]
    (row,) = rows_of(ledger_url, gateway_keys, id=victim)
    assert with_keys.find_key(row["key_hash"]) is None


def test_a_key_inserted_with_a_known_secret_is_detected_and_not_served(
    with_keys: Ledger, ledger_url: str
) -> None:
    forged = _key(7, key_hash=hash_secret("known"), team="admin", approved_by="ceo")
    write_rows(ledger_url, gateway_keys, [asdict(forged)])
    assert with_keys.verify().problems == (
        "gateway_keys key_7: not in the journal (written behind the ledger's back)",
    )
    assert with_keys.find_key(hash_secret("known")) is None
    assert "key_7" not in [k.id for k in with_keys.list_keys()]


def test_a_removed_key_is_detected(with_keys: Ledger, ledger_url: str) -> None:
    raw_sql(ledger_url, "DELETE FROM gateway_keys WHERE id = 'key_1'")
    assert with_keys.verify().problems == (
        "gateway_keys key_1: removed (it was journaled at journal seq 4)",
    )


def test_a_key_with_an_undecodable_value_is_reported_and_not_served(
    with_keys: Ledger, ledger_url: str
) -> None:
    """The gateway reloads keys every few seconds: one garbage row must not stop it reading
    the others (on SQLite the date parser raised from ``list_keys``)."""
    garbage = "infinity" if ledger_url.startswith("postgresql") else "yesterday"
    raw_sql(ledger_url, f"UPDATE gateway_keys SET created_at = '{garbage}' WHERE id = 'key_2'")
    assert [k.id for k in with_keys.list_keys()] == ["key_0", "key_1"]
    (problem,) = with_keys.verify().problems
    assert "key_2" in problem


# --- the journal's own chain ------------------------------------------------------------------


def test_a_removed_journal_entry_is_detected(with_keys: Ledger, ledger_url: str) -> None:
    raw_sql(ledger_url, "DELETE FROM journal WHERE seq = 3")  # key_2 created
    assert with_keys.verify().problems == (
        "journal seq 3 missing: removed before journal seq 4 (gateway_keys key_1)",
        "gateway_keys key_2: not in the journal (written behind the ledger's back)",
    )


def test_an_altered_journal_entry_is_detected(with_keys: Ledger, ledger_url: str) -> None:
    change_rows(ledger_url, journal_table, {"seq": 1}, row_id="key_9")
    problems = with_keys.verify().problems
    assert problems == (
        "journal seq 1 (gateway_keys key_9): record altered (its fields do not match its chain "
        "hash)",
        "gateway_keys key_0: not in the journal (written behind the ledger's back)",
        "gateway_keys key_9: removed (it was journaled at journal seq 1)",
    )


def test_a_rolled_back_revocation_is_caught_by_the_expected_head(
    with_keys: Ledger, ledger_url: str
) -> None:
    """Un-revoking a key and cutting its revocation off the journal's tail leaves a consistent
    ledger: only a head anchored before shows it."""
    anchored = with_keys.head()
    raw_sql(ledger_url, "DELETE FROM journal WHERE seq = 4")
    change_rows(ledger_url, gateway_keys, {"id": "key_1"}, revoked_at=None)
    assert with_keys.verify().ok
    assert with_keys.verify(expect_head=anchored).problems == (
        "expected head journal seq 4 but the journal ends at journal seq 3: the tail was cut off "
        "(journal seq 4..4 missing)",
    )


def test_a_head_of_the_outputs_alone_still_verifies_them(ledger: Ledger, ledger_url: str) -> None:
    ledger.record_many(new_output(i) for i in range(N))
    outputs_only = ledger.head().split("+")[0]  # as printed before the journal existed
    assert anchor.parse_head(outputs_only).journal is None
    assert ledger.verify(expect_head=outputs_only).ok
    raw_sql(ledger_url, f"DELETE FROM outputs WHERE seq = {N}")
    assert "the tail was cut off" in ledger.verify(expect_head=outputs_only).problems[0]


# --- upgrading a ledger written before the journal ---------------------------------------------


def test_an_upgrade_journals_the_edits_and_keys_already_there(ledger_url: str) -> None:
    if ledger_url.startswith("sqlite:///"):
        Path(ledger_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    old_edits = [_edit(i) for i in range(3)]
    engine = create_engine(ledger_url)
    try:
        with engine.begin() as conn:
            migrations.apply(conn, migrations.STEPS[:4])
            conn.execute(gateway_keys.insert(), [asdict(_key(i)) for i in range(2)])
            conn.execute(edits.insert(), [_edit_row(e) for e in old_edits])
    finally:
        engine.dispose()
    with Ledger(ledger_url) as led:  # applies 005
        report = led.verify()
        assert report.ok and report.journal == 5
        assert [k.id for k in led.list_keys()] == ["key_0", "key_1"]
        change_rows(ledger_url, gateway_keys, {"id": "key_1"}, team="finance")
        change_rows(ledger_url, edits, {"id": old_edits[0].id}, added="forged\n")
        seq = sorted(e.id for e in old_edits).index(old_edits[0].id) + 1  # journaled in id order
        assert led.verify().problems == (
            f"edits {old_edits[0].id}: altered (it does not match journal seq {seq})",
            "gateway_keys key_1: altered (it does not match journal seq 5)",
        )
