"""``blame`` and ``stats`` over a small history, with and without notes."""

from __future__ import annotations

import json
from typing import Any

from tests.gitrepo import GitRepo, lines_of
from tests.samples import HOST, JS_OUTPUT, PY_OUTPUT


def history(repo: GitRepo) -> dict[str, str]:
    """Ana commits host code, then an answer of Claude; Bob commits an answer of GPT."""
    repo.record(PY_OUTPUT, "anthropic", "claude-x")
    repo.record(JS_OUTPUT, "openai", "gpt-x")
    repo.write("app.py", HOST)
    base = repo.commit("host", env={"GIT_AUTHOR_DATE": "2026-01-05T10:00:00Z"})
    repo.write("lib/merge.py", PY_OUTPUT)
    claude = repo.commit("merge", env={"GIT_AUTHOR_DATE": "2026-02-05T10:00:00Z"})
    bob = {
        "GIT_AUTHOR_NAME": "Bob",
        "GIT_AUTHOR_EMAIL": "bob@example.com",
        "GIT_AUTHOR_DATE": "2026-02-20T10:00:00Z",
    }
    repo.write("web/group.js", JS_OUTPUT)
    gpt = repo.commit("group", env=bob)
    return {"base": base, "claude": claude, "gpt": gpt}


def stats(repo: GitRepo, by: str, *extra: str) -> dict[str, Any]:
    result = repo.dg("stats", "--by", by, "--json", *extra)
    assert result.exit_code == 0, result.output
    return {row["key"]: row for row in json.loads(result.output)}


def test_stats_by_every_grouping(repo: GitRepo) -> None:
    history(repo)
    host, py, js = HOST.count("\n"), PY_OUTPUT.count("\n"), JS_OUTPUT.count("\n")
    total = host + py + js
    repo_row = stats(repo, "repo")["."]
    assert repo_row["added"] == total and repo_row["commits"] == 3
    outside = repo_row["outside"]
    assert 0.8 * (py + js) <= outside <= py + js

    by_vendor = stats(repo, "vendor")
    assert set(by_vendor) == {"anthropic", "openai", "(none)"}
    assert all(row["added"] == total for row in by_vendor.values())
    assert sum(row["outside"] for row in by_vendor.values()) == total
    assert by_vendor["anthropic"]["outside"] >= 0.8 * py and by_vendor["openai"]["outside"] > 0

    by_author = stats(repo, "author")
    assert by_author["Ana Author <ana@example.com>"]["added"] == host + py
    assert by_author["Bob <bob@example.com>"]["added"] == js
    assert by_author["Bob <bob@example.com>"]["outside"] == by_vendor["openai"]["outside"]

    by_month = stats(repo, "month")
    assert set(by_month) == {"2026-01", "2026-02"}
    assert by_month["2026-01"]["outside"] == 0 and by_month["2026-01"]["share"] == 0.0

    by_dir = stats(repo, "path", "--depth", "1")
    assert set(by_dir) == {"app.py", "lib", "web"}
    assert by_dir["lib"]["share"] > 0.8


def test_stats_are_the_same_from_notes_and_recomputed(repo: GitRepo) -> None:
    shas = history(repo)
    recomputed = stats(repo, "vendor")
    assert repo.dg("attribute", *shas.values()).exit_code == 0
    assert stats(repo, "vendor") == recomputed


def test_blame_names_vendor_model_output_and_commit_and_sees_uncommitted_lines(
    repo: GitRepo,
) -> None:
    shas = history(repo)
    result = repo.dg("blame", "lib/merge.py", "--json")
    data = json.loads(result.output)
    (run,) = data["runs"]
    assert (run["vendor"], run["model"], run["commit"]) == ("anthropic", "claude-x", shas["claude"])
    assert run["output_id"].startswith("out_") and run["start_line"] == 1
    assert data["lines"] == PY_OUTPUT.count("\n")

    edited = HOST + "\n\n" + JS_OUTPUT  # pasted, not committed yet
    (repo.root / "app.py").write_text(edited)
    runs = json.loads(repo.dg("blame", "app.py", "--json").output)["runs"]
    (run,) = runs
    assert run["commit"] == "uncommitted" and run["vendor"] == "openai"
    first, last = lines_of(edited, JS_OUTPUT)
    assert first == run["start_line"] and run["end_line"] <= last

    text = repo.dg("blame", "app.py")
    assert text.exit_code == 0 and "openai/gpt-x" in text.output and "uncommitted" in text.output
    assert repo.dg("blame", "web/../../outside.py").exit_code == 2
    repo.write("new/untracked.js", JS_OUTPUT)
    (run,) = json.loads(repo.dg("blame", "new/untracked.js", "--json").output)["runs"]
    assert (run["start_line"], run["end_line"], run["commit"]) == (1, 15, "uncommitted")
