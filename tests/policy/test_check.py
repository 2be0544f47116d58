"""``distillguard check``: policy violations in commit ranges, in text, JSON and SARIF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.gitrepo import GitRepo, around, lines_of
from tests.samples import HOST, JS_OUTPUT, PY_OUTPUT, PY_RENAMED

SARIF_SUBSET = json.loads((Path(__file__).parent / "sarif_required.json").read_text())
TESTS_RULE = """
[[rules]]
id = "no-outside-output-in-tests"
paths = ["tests/**", "evals/**"]
deny = "external"
"""
REVIEW_RULE = """
[[rules]]
id = "review-outside-code"
paths = ["src/**"]
deny = "external"
require = "review"
"""
HEADER = ["import pytest", "", "from app import merge", "", ""]


def start(repo: GitRepo, config: str) -> str:
    """main: the policy and some code; then a feature branch. Returns BASE."""
    repo.record(PY_OUTPUT, "anthropic", "claude-sonnet-4-5")
    repo.record(JS_OUTPUT, "openai", "gpt-5-codex")
    repo.write("distillguard.toml", config)
    repo.write("app.py", HOST)
    base = repo.commit("policy")
    repo.git("checkout", "-q", "-b", "feature")
    return base


def test_output_in_tests_fails_with_file_lines_vendor_model_and_rule(repo: GitRepo) -> None:
    base = start(repo, TESTS_RULE)
    text = around(PY_RENAMED, HEADER, [])
    repo.write("tests/test_merge.py", text)
    repo.write("web/group.js", JS_OUTPUT)  # outside output, but no rule covers web/
    sha = repo.commit("tests")
    first, last = lines_of(text, PY_RENAMED)

    result = repo.dg("check", "--range", f"{base}..HEAD")
    assert result.exit_code == 1, result.output
    assert (
        f"tests/test_merge.py:{first}-{last}: [no-outside-output-in-tests] "
        f"anthropic/claude-sonnet-4-5 in commit {sha[:12]}"
    ) in result.output
    assert "web/group.js" not in result.output
    assert "1 violation(s): 1 commit(s) checked against 1 rule(s)" in result.output

    data = json.loads(repo.dg("check", "--range", f"{base}..HEAD", "--format", "json").output)
    (v,) = data["violations"]
    assert (v["path"], v["start_line"], v["end_line"]) == ("tests/test_merge.py", first, last)
    assert (v["vendor"], v["model"], v["rule_id"], v["commit"]) == (
        "anthropic",
        "claude-sonnet-4-5",
        "no-outside-output-in-tests",
        sha,
    )
    assert v["output_id"].startswith("out_")

    sarif = sarif_of(repo, f"{base}..HEAD")
    (res,) = sarif["runs"][0]["results"]
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "tests/test_merge.py"
    assert loc["region"] == {"startLine": first, "endLine": last}
    assert res["ruleId"] == "no-outside-output-in-tests" and res["level"] == "error"
    assert sarif["runs"][0]["tool"]["driver"]["rules"][res["ruleIndex"]]["id"] == res["ruleId"]


def sarif_of(repo: GitRepo, spec: str) -> Any:
    out = repo.root.parent / "report.sarif"
    result = repo.dg("check", "--range", spec, "--format", "sarif", "--output", str(out))
    assert result.exit_code in (0, 1), result.output
    log = json.loads(out.read_text())
    jsonschema.validate(log, SARIF_SUBSET)
    return log


def test_clean_range_exits_0_and_sarif_is_still_valid(repo: GitRepo) -> None:
    base = start(repo, TESTS_RULE)
    repo.write("tests/test_app.py", "def test_app():\n    assert True\n")
    repo.write("src/group.js", JS_OUTPUT)  # not covered by the rule
    repo.commit("human tests")
    result = repo.dg("check", "--range", f"{base}..feature")
    assert result.exit_code == 0 and "no violations" in result.output
    assert sarif_of(repo, f"{base}..feature")["runs"][0]["results"] == []


def test_rules_come_from_base_so_a_change_cannot_loosen_its_own_check(repo: GitRepo) -> None:
    base = start(repo, TESTS_RULE)
    repo.write("tests/test_merge.py", PY_OUTPUT)
    repo.write("distillguard.toml", "")  # the same change deletes the rule
    repo.commit("tests, and drop the rule")
    repo.write("distillguard.toml", '[vendors.anthropic]\nclass = "internal"\n')
    repo.commit("and call anthropic internal")
    result = repo.dg("check", "--range", f"{base}..HEAD")
    assert result.exit_code == 1
    assert "tests/test_merge.py" in result.output and f"at {base[:12]}" in result.output
    # Once merged, the new policy is BASE for later changes: a later change is judged by it.
    later = repo.head()
    repo.write("tests/test_more.py", PY_OUTPUT)
    repo.commit("more")
    assert repo.dg("check", "--range", f"{later}..HEAD").exit_code == 0


def test_review_rule_is_satisfied_by_another_persons_reviewed_by(repo: GitRepo) -> None:
    base = start(repo, REVIEW_RULE)
    repo.write("src/group.js", JS_OUTPUT)
    repo.commit("no review")
    unreviewed = repo.dg("check", "--range", f"{base}..HEAD")
    assert unreviewed.exit_code == 1
    assert "[review-outside-code] openai/gpt-5-codex" in unreviewed.output
    assert "without a review" in unreviewed.output

    repo.git("commit", "-q", "--amend", "-m", "x\n\nReviewed-by: Ana Author <ana@example.com>")
    assert repo.dg("check", "--range", f"{base}..HEAD").exit_code == 1  # self-review
    msg = "x\n\nReviewed-by: Rita Reviewer <rita@example.com>"
    repo.git("commit", "-q", "--amend", "-m", msg)
    assert repo.dg("check", "--range", f"{base}..HEAD").exit_code == 0


def test_review_recorded_as_a_note(repo: GitRepo) -> None:
    base = start(repo, REVIEW_RULE)
    repo.write("src/group.js", JS_OUTPUT)
    sha = repo.commit("no trailer")
    assert repo.dg("check", "--range", f"{base}..HEAD").exit_code == 1
    note = "Reviewed-by: Rita Reviewer <rita@example.com>"
    repo.git("notes", "--ref", "distillguard-reviews", "add", "-m", note, sha)
    assert repo.dg("check", "--range", f"{base}..HEAD").exit_code == 0


def test_ai_coauthored_commit_needs_review_even_without_a_matched_line(repo: GitRepo) -> None:
    base = start(repo, REVIEW_RULE)
    repo.write("src/util.py", "def double(x):\n    return 2 * x\n")
    repo.git("add", ".")
    repo.git("commit", "-q", "-m", "util\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
    result = repo.dg("check", "--range", f"{base}..HEAD", "--format", "json")
    (v,) = json.loads(result.output)["violations"]
    assert result.exit_code == 1
    assert (v["path"], v["start_line"], v["end_line"], v["vendor"]) == (
        "src/util.py",
        1,
        2,
        "anthropic",
    )
    assert "AI-assisted commit" in v["message"]


def test_notes_missing_or_stale_are_recomputed(repo: GitRepo) -> None:
    base = start(repo, TESTS_RULE)
    pasted = "def combine(a, b):\n" + "".join(f"    step_{i} = a * {i} + b\n" for i in range(30))
    repo.write("tests/test_x.py", pasted)
    repo.commit("pasted before the answer was recorded")
    assert repo.dg("attribute").exit_code == 0  # a note saying: nothing from outside
    assert repo.dg("check", "--range", f"{base}..HEAD").exit_code == 0
    repo.record(PY_OUTPUT + "\n" + pasted, "anthropic", "claude-late")  # recorded afterwards
    result = repo.dg("check", "--range", f"{base}..HEAD", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.output)["recomputed"] == 1  # the stale note was not trusted


def test_staged_checks_the_index_with_rules_from_head(repo: GitRepo) -> None:
    start(repo, TESTS_RULE)
    repo.write("tests/test_merge.py", PY_RENAMED)
    repo.git("add", ".")
    result = repo.dg("check", "--staged")
    assert result.exit_code == 1
    assert "tests/test_merge.py:1-" in result.output
    repo.git("reset", "-q")
    repo.write("src/merge.py", PY_RENAMED)
    repo.git("add", "src/merge.py")
    assert repo.dg("check", "--staged").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["check", "--staged", "--range", "HEAD~1..HEAD"],
        ["check", "--range", "HEAD"],
        ["check", "--range", "nope..HEAD"],
        ["check", "--range", "HEAD~1..HEAD", "--format", "xml"],
    ],
)
def test_usage_errors_exit_2(repo: GitRepo, args: list[str]) -> None:
    start(repo, TESTS_RULE)
    repo.write("a.txt", "a\n")
    repo.commit("a")
    assert repo.dg(*args).exit_code == 2


def test_a_broken_policy_at_base_exits_2_with_every_error(repo: GitRepo) -> None:
    bad = '[[rules]]\nid = "x"\npaths = "tests/**"\ndeny = "anthropic"\n\n[[rules]]\nid = 3\n'
    base = start(repo, bad)
    repo.write("a.txt", "a\n")
    repo.commit("a")
    repo.write("distillguard.toml", TESTS_RULE)
    repo.commit("fix the policy")
    result = repo.dg("--config", str(repo.root / "distillguard.toml"), "config", "validate")
    assert result.exit_code == 0
    repo.git("checkout", "-q", base, "--", "distillguard.toml")
    result = repo.dg("config", "validate")
    assert result.exit_code == 2
    for part in (
        "paths: must be a list",
        "deny: 'anthropic'",
        "#2 id: missing: a rule needs an id",
    ):
        assert part in result.output
    repo.git("checkout", "-q", "HEAD", "--", "distillguard.toml")
    checked = repo.dg("check", "--range", f"{base}..HEAD")
    assert checked.exit_code == 2 and "deny: 'anthropic'" in checked.output


def test_internal_vendors_are_not_denied_by_a_class_rule(repo: GitRepo) -> None:
    base = start(repo, '[vendors.metacode]\nclass = "internal"\n' + TESTS_RULE)
    repo.record(PY_OUTPUT, "metacode", "mc-1")
    repo.write("tests/test_merge.py", PY_OUTPUT)
    repo.commit("tests from our own model and from claude")
    data = json.loads(repo.dg("check", "--range", f"{base}..HEAD", "--format", "json").output)
    assert {v["vendor"] for v in data["violations"]} == {"anthropic"}  # metacode is ours


def test_an_agents_one_line_edit_fails_no_check_and_a_real_addition_does(repo: GitRepo) -> None:
    # Claude Code's Edit quotes unchanged context around the change: only the added lines are
    # the model's, so a one-line edit inside the company's code breaks no rule.
    import inspect

    from distillguard.ledger import Ledger
    from distillguard.model import NewOutput
    from distillguard.scan.formats import csv as company

    own = inspect.getsource(company).splitlines(keepends=True)[:160]
    repo.write("distillguard.toml", TESTS_RULE)
    repo.write("tests/helpers.py", "".join(own))
    base = repo.commit("company code")
    old = "".join(own[100:140])

    def agent_edit(added: str) -> str:
        new = "".join(own[100:120]) + added + "".join(own[120:140])
        answer = "I'll make that change.\n\n" + new
        with Ledger(repo.ledger_url) as ledger:
            ledger.record(NewOutput("anthropic", "claude-x", answer, request=old))
        text = "".join(own[:100]) + new + "".join(own[140:])
        repo.write("tests/helpers.py", text)
        return repo.commit("agent edit")

    agent_edit("import os.path\n")
    assert repo.dg("check", "--range", f"{base}..HEAD").exit_code == 0
    agent_edit("".join(f"    {line}\n" for line in PY_OUTPUT.splitlines()))
    result = repo.dg("check", "--range", f"{base}..HEAD")
    assert result.exit_code == 1 and "tests/helpers.py:" in result.output
