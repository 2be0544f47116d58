"""The installed hooks never break git: earlier hooks keep working, failures are logged."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from distillguard.capture.git.hooks import install_hooks
from distillguard.capture.git.repo import Git
from tests.gitrepo import GitRepo
from tests.samples import PY_OUTPUT


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """Hooks behave the same on either backend (the rewrite tests run both): SQLite here."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def log_of(repo: GitRepo) -> str:
    path = repo.root / ".git" / "distillguard-hook.log"
    return path.read_text() if path.exists() else ""


def test_existing_hooks_keep_running_with_their_arguments_and_input(
    repo: GitRepo, tmp_path: Path
) -> None:
    hooks = repo.root / ".git" / "hooks"
    trace = tmp_path / "trace.txt"
    for name in ("post-commit", "post-rewrite"):
        (hooks / name).write_text(
            f'#!/bin/sh\necho "{name} $*" >> {trace}\ncat >> {trace}\nexit 3\n'
        )
        (hooks / name).chmod(0o755)
    repo.write("a.txt", "a\n")
    repo.commit("first")
    assert repo.dg("install", "git").exit_code == 0
    assert repo.dg("install", "git").exit_code == 0  # twice: still one chained hook
    assert (hooks / "post-commit.pre-distillguard").exists()
    repo.write("b.txt", PY_OUTPUT)
    repo.commit("second")
    before = repo.head()
    repo.git("commit", "-q", "--amend", "-m", "second, amended")
    seen = trace.read_text()
    assert seen.count("post-commit") == 3  # first (before install), second, the amend
    assert f"post-rewrite amend\n{before} {repo.head()}" in seen
    assert repo.note() is not None  # and distillguard ran too
    assert log_of(repo).count(f"attributed {repo.head()}") == 1  # once: post-rewrite, not both
    hook = subprocess.run(
        [str(hooks / "post-commit")], cwd=repo.root, capture_output=True, check=False
    )
    assert hook.returncode == 3  # the earlier hook's status is the hook's status


def test_a_failing_attribution_is_logged_and_git_goes_on(repo: GitRepo) -> None:
    repo.write("a.txt", "a\n")
    repo.commit("first")
    assert repo.dg("install", "git").exit_code == 0
    repo.write("b.txt", "b\n")
    broken = {"DISTILLGUARD_DB": "postgresql+psycopg://nobody@127.0.0.1:9/none"}
    sha = repo.commit("second", env=broken)  # asserts git's exit status 0
    assert repo.note(sha) is None
    assert "post-commit: attribution failed" in log_of(repo)
    assert "LedgerError" in log_of(repo) or "ledger" in log_of(repo).lower()


def test_the_time_budget_stops_a_slow_attribution(repo: GitRepo) -> None:
    repo.write("a.txt", "a\n")
    repo.commit("first")
    assert repo.dg("install", "git").exit_code == 0
    repo.write("b.txt", "b\n")
    started = time.monotonic()
    repo.commit("second", env={"DISTILLGUARD_HOOK_TIMEOUT": "0.2"})
    assert time.monotonic() - started < 10
    assert "took over 0.2s; stopped" in log_of(repo)


def test_a_broken_install_is_logged_by_the_shell_part(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("a.txt", "a\n")
    repo.commit("first")
    missing = str(tmp_path / "gone" / "python")
    installed = install_hooks(Git(repo.root), python=missing, env={})
    assert {i.hook for i in installed} == {"post-commit", "post-rewrite"}
    mode = installed[0].path.stat().st_mode
    assert mode & stat.S_IXUSR
    repo.write("b.txt", "b\n")
    repo.commit("second")
    assert f"post-commit: {missing} -m distillguard.capture.git.hook failed" in log_of(repo)


def test_install_carries_the_ledger_settings_into_the_hook(repo: GitRepo) -> None:
    assert repo.dg("install", "git").exit_code == 0
    script = (repo.root / ".git" / "hooks" / "post-commit").read_text()
    home = os.environ["DISTILLGUARD_HOME"]
    assert f'export DISTILLGUARD_HOME="${{DISTILLGUARD_HOME:-{home}}}"' in script
    assert "DISTILLGUARD_DB" in script


def test_hooks_path_is_honoured(repo: GitRepo, tmp_path: Path) -> None:
    shared = tmp_path / "shared-hooks"
    repo.git("config", "core.hooksPath", str(shared))
    assert repo.dg("install", "git").exit_code == 0
    assert (shared / "post-commit").exists() and (shared / "post-rewrite").exists()
