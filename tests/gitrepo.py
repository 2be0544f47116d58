"""A real git repository in a temporary directory, with a real ledger, for git and policy tests.

``GitRepo`` runs the real ``git`` binary; ``dg(...)`` runs the distillguard CLI in-process in
the repository (``CliRunner``), with ``DISTILLGUARD_HOME``/``DISTILLGUARD_DB`` pointing at the
test's own ledger and index, which hooks (subprocesses) inherit through the environment.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from distillguard.cli import main
from distillguard.ledger import Ledger
from distillguard.model import NewOutput


class GitRepo:
    def __init__(self, root: Path, ledger_url: str) -> None:
        self.root = root
        self.ledger_url = ledger_url
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Ana Author")
        self.git("config", "user.email", "ana@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            input=stdin,
            env={**os.environ, **(env or {})},
            check=False,
        )
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def commit(self, message: str, *paths: str, env: dict[str, str] | None = None) -> str:
        self.git("add", "--", *(paths or (".",)))
        self.git("commit", "-q", "-m", message, env=env)
        return self.head()

    def head(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", rev).strip()

    def record(self, text: str, vendor: str = "anthropic", model: str = "claude-x") -> str:
        with Ledger(self.ledger_url) as ledger:
            return ledger.record(NewOutput(vendor=vendor, model=model, text=text)).id

    def dg(self, *args: str) -> Result:
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            return CliRunner().invoke(main, list(args), catch_exceptions=False)
        finally:
            os.chdir(cwd)

    def note(self, rev: str = "HEAD") -> str | None:
        proc = subprocess.run(
            ["git", "notes", "--ref", "distillguard", "show", rev],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout if proc.returncode == 0 else None


def lines_of(text: str, snippet: str) -> tuple[int, int]:
    """The 1-based inclusive line range ``snippet`` occupies in ``text``."""
    start = text.index(snippet)
    first = text.count("\n", 0, start) + 1
    return first, first + snippet.rstrip("\n").count("\n")


def around(snippet: str, before: Sequence[str], after: Sequence[str]) -> str:
    """A file: ``before`` lines, the snippet, ``after`` lines."""
    return "".join(line + "\n" for line in before) + snippet + "".join(x + "\n" for x in after)


@pytest.fixture
def repo(tmp_path: Path, ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A fresh repository; distillguard's ledger and index live outside it, in tmp_path."""
    monkeypatch.setenv("DISTILLGUARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DISTILLGUARD_DB", ledger_url)
    monkeypatch.setenv("DISTILLGUARD_HOOK_TIMEOUT", "300")
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))  # no user settings
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    Ledger(ledger_url).close()  # an empty ledger: commands that only read never create one
    return GitRepo(tmp_path / "repo", ledger_url)
