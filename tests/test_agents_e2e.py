"""End to end: the real Claude Code, with its hook installed, writes a test file in a real git
repository; the commit is attributed to the model, the attribution survives a rebase and a
squash, and a rule keeping outside output out of ``tests/**`` fails ``distillguard check``.

Nothing is recorded by hand: the only way the ledger learns of the code is the Claude Code hook
(``install claude-code --scope project``), and the only way git learns of it is the post-commit
and post-rewrite hooks (``install git``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from distillguard.ledger import Ledger
from tests.capture.hooks.agents import claude_write_edit_turn, enqueue_claude
from tests.clis.harness import CLAUDE_MODEL, Clis, install_clis, run_claude
from tests.fakes.vendors import VendorUpstream
from tests.gitrepo import GitRepo
from tests.samples import HOST, PY_OUTPUT

PATH = "tests/test_intervals.py"
MODEL_ID = f"anthropic/{CLAUDE_MODEL}"  # Agent Trace's model_id: provider/model
OLD = "    if not intervals:\n        return []\n"
NEW = "    if not intervals:\n        return []  # nothing to merge\n"
POLICY = """[[rules]]
id = "no-outside-output-in-tests"
paths = ["tests/**"]
deny = "external"
"""


@pytest.fixture(scope="module")
def clis() -> Clis:
    return install_clis()


@pytest.fixture
def upstream() -> Iterator[VendorUpstream]:
    with VendorUpstream() as started:
        yield started


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    url = f"sqlite:///{tmp_path / 'dg' / 'ledger.db'}"
    monkeypatch.setenv("DISTILLGUARD_HOME", str(tmp_path / "dg"))
    monkeypatch.setenv("DISTILLGUARD_DB", url)
    monkeypatch.setenv("DISTILLGUARD_HOOK_TIMEOUT", "300")
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    return GitRepo(tmp_path / "repo", url)


def attributed(repo: GitRepo, rev: str = "HEAD") -> dict[str, list[tuple[int, int, str]]]:
    """path -> (start, end, model id) ranges, from the Agent Trace note the git hooks wrote."""
    raw = repo.note(rev)
    assert raw is not None, f"no note on {rev}"
    record = json.loads(raw)
    assert record["vcs"]["revision"] == repo.head(rev)
    return {
        f["path"]: [
            (r["start_line"], r["end_line"], c["contributor"]["model_id"])
            for c in f["conversations"]
            for r in c["ranges"]
        ]
        for f in record["files"]
    }


def test_claude_code_edit_is_attributed_and_checked(
    clis: Clis, upstream: VendorUpstream, repo: GitRepo, tmp_path: Path
) -> None:
    repo.write("app.py", HOST)
    repo.write("distillguard.toml", POLICY)
    repo.write(".gitignore", ".claude/\n")
    repo.commit("base")
    for agent in ("git", "claude-code"):
        result = repo.dg("install", agent, *(("--scope", "project") if agent != "git" else ()))
        assert result.exit_code == 0, result.output
    repo.git("checkout", "-q", "-b", "feature")

    turn = claude_write_edit_turn(repo.root / PATH, PY_OUTPUT, OLD, NEW)
    enqueue_claude(upstream, turn)
    run = run_claude(
        clis.claude,
        base_url=upstream.base_url,
        api_key="sk-ant-x",
        prompt="Write the interval tests",
        cwd=repo.root,
        home=tmp_path / "home",
    )
    assert run.returncode == 0, run.describe()
    text = (repo.root / PATH).read_text()
    assert text == turn.final
    with Ledger(repo.ledger_url) as ledger:  # what the Claude Code hook recorded
        assert {e.path for e in ledger.list_edits()} == {str(repo.root / PATH)}
    lines = text.count("\n")

    repo.commit("add interval tests", PATH)
    assert attributed(repo) == {PATH: [(1, lines, MODEL_ID)]}

    repo.write("docs.md", "# Intervals\n\nHow merging works, written by a person.\n")
    repo.commit("docs", "docs.md")
    repo.git("checkout", "-q", "main")
    repo.write("app.py", "# main moved on\n" + HOST)
    repo.commit("main moves on", "app.py")
    base = repo.head()
    repo.git("checkout", "-q", "feature")
    repo.git("rebase", "-q", "main")  # new commits: the post-rewrite hook attributes them
    assert attributed(repo, "HEAD~1") == {PATH: [(1, lines, MODEL_ID)]}

    repo.git("reset", "-q", "--soft", "main")  # squash the branch into one commit
    repo.git("commit", "-q", "-m", "interval tests, squashed")
    assert attributed(repo) == {PATH: [(1, lines, MODEL_ID)]}

    check = repo.dg("check", "--range", f"{base}..HEAD")
    assert check.exit_code == 1, check.output
    (violation,) = [line for line in check.output.splitlines() if line.startswith(PATH)]
    assert violation.startswith(f"{PATH}:1-{lines}: [no-outside-output-in-tests] "
                                f"anthropic/{CLAUDE_MODEL} ")  # fmt: skip

    repo.git("update-ref", "-d", "refs/notes/distillguard")  # notes lost: recomputed
    again = repo.dg("check", "--range", f"{base}..HEAD")
    assert again.exit_code == 1 and violation in again.output
