from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitrepo import GitRepo


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
    return GitRepo(tmp_path / "repo", ledger_url)
