"""Attribution survives amend, rebase and squash: via the installed hooks, and by recomputing.

The hooks are the real post-commit/post-rewrite scripts ``distillguard install git`` writes, run
by real ``git``; each test then deletes the notes and checks that ``blame`` (which recomputes
from content when a note is missing) gives the same lines.
"""

from __future__ import annotations

import json
from typing import Any

from tests.gitrepo import GitRepo, around, lines_of
from tests.samples import HOST, JS_OUTPUT, PY_OUTPUT, PY_RENAMED

HEADER = ["import pytest", "", "from app import merge", "", ""]
FOOTER = ["", "", "def test_merge():", "    assert merge([]) == []"]


def noted(repo: GitRepo, rev: str = "HEAD") -> dict[str, list[tuple[int, int]]]:
    """path -> ranges of outside output, from the note the hooks wrote on ``rev``."""
    raw = repo.note(rev)
    assert raw is not None, f"the hook wrote no note on {rev}"
    record = json.loads(raw)
    assert record["vcs"]["revision"] == repo.head(rev)
    return {
        f["path"]: [
            (r["start_line"], r["end_line"]) for c in f["conversations"] for r in c["ranges"]
        ]
        for f in record["files"]
    }


def blamed(repo: GitRepo, path: str) -> list[Any]:
    result = repo.dg("blame", path, "--json")
    assert result.exit_code == 0, result.output
    return [
        (r["start_line"], r["end_line"], r["commit"], r["vendor"])
        for r in json.loads(result.output)["runs"]
    ]


def setup(repo: GitRepo) -> str:
    repo.record(PY_OUTPUT, "anthropic", "claude-x")
    repo.record(JS_OUTPUT, "openai", "gpt-x")
    repo.write("app.py", HOST)
    repo.commit("base")
    result = repo.dg("install", "git")
    assert result.exit_code == 0 and "installed post-rewrite" in result.output
    repo.git("checkout", "-q", "-b", "feature")
    text = around(PY_RENAMED, HEADER, FOOTER)
    repo.write("tests/test_merge.py", text)
    repo.commit("add tests written by an agent")
    return text


def assert_recomputed_same(repo: GitRepo, path: str) -> None:
    """Without notes, blame recomputes from content and finds the same lines and commits."""
    with_notes = blamed(repo, path)
    repo.git("update-ref", "-d", "refs/notes/distillguard")
    assert repo.note() is None
    assert blamed(repo, path) == with_notes and with_notes


def test_post_commit_hook_notes_each_commit(repo: GitRepo) -> None:
    text = setup(repo)
    assert noted(repo) == {"tests/test_merge.py": [lines_of(text, PY_RENAMED)]}
    assert blamed(repo, "tests/test_merge.py") == [
        (*lines_of(text, PY_RENAMED), repo.head(), "anthropic")
    ]


def test_amend_moves_the_lines_and_keeps_the_attribution(repo: GitRepo) -> None:
    text = setup(repo)
    before = repo.head()
    shifted = "# a comment added on amend\n\n" + text
    repo.write("tests/test_merge.py", shifted)
    repo.git("add", ".")
    repo.git("commit", "-q", "--amend", "-m", "add tests (amended)")
    assert repo.head() != before
    start, end = lines_of(text, PY_RENAMED)
    assert noted(repo) == {"tests/test_merge.py": [(start + 2, end + 2)]}
    assert_recomputed_same(repo, "tests/test_merge.py")


def test_rebase_onto_a_moved_base(repo: GitRepo) -> None:
    text = setup(repo)
    repo.write("web/group.js", JS_OUTPUT)
    repo.commit("second feature commit")
    repo.git("checkout", "-q", "main")
    repo.write("app.py", "# moved on\n" + HOST)
    repo.commit("main moves on")
    repo.git("checkout", "-q", "feature")
    old = [repo.head("HEAD~1"), repo.head()]
    repo.git("rebase", "-q", "main")
    new = [repo.head("HEAD~1"), repo.head()]
    assert set(old).isdisjoint(new)
    assert noted(repo, "HEAD~1") == {"tests/test_merge.py": [lines_of(text, PY_RENAMED)]}
    (js,) = noted(repo, "HEAD")["web/group.js"]
    assert js[0] == 1 and js[1] >= 12
    assert_recomputed_same(repo, "tests/test_merge.py")


def test_squash_with_reset_soft(repo: GitRepo) -> None:
    text = setup(repo)
    repo.write("web/group.js", JS_OUTPUT)
    repo.commit("second")
    repo.git("reset", "-q", "--soft", "main")
    repo.git("commit", "-q", "-m", "squashed")
    notes = noted(repo)
    assert notes["tests/test_merge.py"] == [lines_of(text, PY_RENAMED)]
    assert notes["web/group.js"][0][0] == 1
    assert_recomputed_same(repo, "web/group.js")


def test_interactive_rebase_squash(repo: GitRepo) -> None:
    text = setup(repo)
    repo.write("web/group.js", JS_OUTPUT)
    repo.commit("second")
    env = {"GIT_SEQUENCE_EDITOR": "sed -i -e '2s/^pick/squash/'", "GIT_EDITOR": "true"}
    repo.git("rebase", "-q", "-i", "main", env=env)
    assert repo.git("rev-list", "--count", "main..HEAD").strip() == "1"
    notes = noted(repo)
    assert notes["tests/test_merge.py"] == [lines_of(text, PY_RENAMED)]
    assert notes["web/group.js"][0][0] == 1
    assert_recomputed_same(repo, "tests/test_merge.py")
