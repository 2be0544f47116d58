"""Where the ledger is, and that only recording creates it: a command that only reads, on a
missing SQLite ledger, fails (exit 2) naming the path and how it was chosen, and creates nothing.

Before: a typo in ``DISTILLGUARD_HOME`` or the SQLite path silently created an empty ledger,
which ``ledger verify`` called ok.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from distillguard.errors import LedgerMissingError
from distillguard.ledger import Ledger
from tests.samples import PY_OUTPUT

READ_ONLY = [
    ("ledger", "verify"),
    ("ledger", "head"),
    ("usage",),
    ("keys", "list"),
    ("keys", "revoke", "key_x"),
    ("index", "build"),
    ("scan", "data", "--out", "out"),
]


def said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join(result.output.split())


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_command_that_only_reads_never_creates_the_ledger(
    run, tmp_path: Path, command: tuple[str, ...]
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.py").write_text(PY_OUTPUT)
    result = run(*command)
    assert result.exit_code == 2, result.output
    ledger = tmp_path / "home" / "ledger.db"
    assert said(result).startswith(f"error: no ledger at {ledger}: nothing was recorded there")
    assert f"DISTILLGUARD_HOME being '{tmp_path / 'home'}' (set)" in said(result)
    assert not (tmp_path / "home").exists()


def test_a_typo_in_distillguard_db_is_named(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DISTILLGUARD_DB", f"sqlite:///{tmp_path}/ledgr/ledger.db")
    result = run("ledger", "verify")
    assert result.exit_code == 2
    assert f"no ledger at {tmp_path}/ledgr/ledger.db" in said(result)
    assert "the ledger is the one DISTILLGUARD_DB names" in said(result)
    assert not (tmp_path / "ledgr").exists()


def test_the_default_home_is_said_to_be_the_default(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DISTILLGUARD_HOME")
    result = run("ledger", "head")
    assert result.exit_code == 2
    assert "DISTILLGUARD_HOME being '.distillguard' (not set, so the default)" in said(result)
    assert not (tmp_path / ".distillguard").exists()


def test_recording_creates_the_ledger_and_then_it_reads(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "answer.py").write_text(PY_OUTPUT)
    recorded = run("record", "answer.py", "--vendor", "anthropic", "--model", "m")
    assert recorded.exit_code == 0, recorded.output
    assert (tmp_path / "home" / "ledger.db").is_file()
    verified = run("ledger", "verify")
    assert verified.exit_code == 0, verified.output


def test_keys_create_sets_up_a_ledger_for_the_gateway(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = run("keys", "create", "--actor", "a", "--team", "t", "--approved-by", "b")
    assert created.exit_code == 0, created.output
    assert run("keys", "list").exit_code == 0


def test_attribute_in_a_commit_hook_creates_no_ledger(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=A", "-c", "user.email=a@example.com", *args],
            cwd=tmp_path, check=True, capture_output=True,
        )  # fmt: skip

    git("init", "-q")
    (tmp_path / "a.py").write_text(PY_OUTPUT)
    git("add", "a.py")
    git("commit", "-q", "-m", "a")
    result = run("attribute")
    assert result.exit_code == 2 and "no ledger at" in said(result)
    assert not (tmp_path / "home").exists()


def test_the_library_creates_only_when_asked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x/ledger.db"
    with pytest.raises(LedgerMissingError, match="no ledger at"):
        Ledger(url, create=False)
    assert not (tmp_path / "x").exists()
    Ledger(url).close()
    Ledger(url, create=False).close()
    Ledger("sqlite://", create=False).close()  # in memory: nothing to miss
