"""``distillguard attribute`` on real commits: the right files and lines, as Agent Trace notes."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import jsonschema

from distillguard.fingerprint import FingerprintConfig
from distillguard.index.sets import privacy_form
from distillguard.ledger import Ledger
from distillguard.model import NewOutput
from tests.gitrepo import GitRepo, around, lines_of
from tests.samples import HOST, JS_OUTPUT, PY_OUTPUT, PY_REFORMATTED, PY_RENAMED, PY_SIBLING

SCHEMA = json.loads((Path(__file__).parent / "agent_trace_schema.json").read_text())
TEST_HEADER = ["import pytest", "", "from app import merge", "", ""]
TEST_FOOTER = ["", "", "def test_merge():", "    assert merge([]) == []"]


def note(repo: GitRepo, rev: str = "HEAD") -> Any:
    raw = repo.note(rev)
    assert raw is not None, f"no note on {rev}"
    record = json.loads(raw)
    jsonschema.validate(record, SCHEMA)
    uuid.UUID(record["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["timestamp"])
    return record


def ranges(record: Any, path: str) -> dict[str, list[tuple[int, int]]]:
    """model_id -> ranges, for one file of a record."""
    (entry,) = [f for f in record["files"] if f["path"] == path]
    return {
        c["contributor"]["model_id"]: [(r["start_line"], r["end_line"]) for r in c["ranges"]]
        for c in entry["conversations"]
    }


def covers(found: list[tuple[int, int]], expected: tuple[int, int], share: float = 0.75) -> bool:
    """The ranges lie inside ``expected`` and cover at least ``share`` of it (winnowing keeps
    a sample of fingerprints, so the last few tokens of a copy may carry no evidence)."""
    first, last = expected
    inside = all(first <= s <= e <= last for s, e in found)
    lines = sum(e - s + 1 for s, e in found)
    return inside and lines >= share * (last - first + 1)


def test_attribute_notes_the_added_lines_of_each_output(repo: GitRepo) -> None:
    py_id = repo.record(PY_OUTPUT, "anthropic", "claude-sonnet-4-5")
    js_id = repo.record(JS_OUTPUT, "openai", "gpt-5-codex")
    repo.write("app.py", HOST)
    base = repo.commit("base")
    test_file = around(PY_RENAMED, TEST_HEADER, TEST_FOOTER)  # renamed identifiers
    repo.write("tests/test_merge.py", test_file)
    repo.write("web/group.js", JS_OUTPUT)
    repo.write("app.py", HOST.replace("reporting", "reports"))  # a human edit: no output
    repo.write("src/split.py", PY_SIBLING)  # similar code, not a recorded output
    sha = repo.commit("add helpers")

    result = repo.dg("attribute")
    assert result.exit_code == 0, result.output
    assert f"{sha[:12]}: " in result.output

    record = note(repo)
    assert record["vcs"] == {"type": "git", "revision": sha}
    assert record["tool"]["name"] == "distillguard"
    assert sorted(f["path"] for f in record["files"]) == ["tests/test_merge.py", "web/group.js"]
    assert ranges(record, "tests/test_merge.py") == {
        "anthropic/claude-sonnet-4-5": [lines_of(test_file, PY_RENAMED)]
    }
    # verbatim: every line, the closing ones too (the output's own lines extend the evidence)
    assert ranges(record, "web/group.js") == {"openai/gpt-5-codex": [(1, 15)]}
    conv = record["files"][0]["conversations"][0]
    assert conv["contributor"]["type"] == "ai"
    assert conv["url"] in (f"urn:distillguard:output:{py_id}", f"urn:distillguard:output:{js_id}")
    meta = record["metadata"]["dev.distillguard"]
    assert meta["outputs"][py_id]["vendor"] == "anthropic"
    assert meta["outputs"][js_id]["model"] == "gpt-5-codex"
    assert 0.3 <= meta["outputs"][py_id]["containment"] <= 1.0
    assert meta["added_lines"]["app.py"] == 2 and meta["added_lines"]["src/split.py"] == 12
    assert meta["ai_assisted"] is True and meta["coauthors"] == []
    assert repo.note(base) is None  # only the commits asked for


def test_only_lines_the_commit_added_are_attributed(repo: GitRepo) -> None:
    repo.record(PY_OUTPUT)
    repo.write("lib/merge.py", HOST + "\n\n" + PY_OUTPUT)
    first = repo.commit("paste an answer")
    repo.write("lib/merge.py", HOST + "\n\n" + PY_OUTPUT + "\n\ndef extra():\n    return 42\n")
    second = repo.commit("a human adds a function below it")
    lines = HOST.count("\n") + 2
    edited = (HOST + "\n\n" + PY_OUTPUT).replace("total += end - start", "total += end - start + 1")
    repo.write("lib/merge.py", edited)
    third = repo.commit("a human edits one line inside it")

    assert repo.dg("attribute", first, second, third).exit_code == 0
    found = ranges(note(repo, first), "lib/merge.py")["anthropic/claude-x"]
    assert covers(found, (lines + 1, lines + PY_OUTPUT.count("\n")), 0.9)
    assert note(repo, second)["files"] == []  # it added only its own lines
    assert note(repo, second)["metadata"]["dev.distillguard"]["added_lines"] == {"lib/merge.py": 4}
    changed = lines_of(edited, "        total += end - start + 1\n")
    third_ranges = ranges(note(repo, third), "lib/merge.py")["anthropic/claude-x"]
    assert third_ranges == [changed]  # the edited line sits inside the output's evidence


def test_code_pasted_by_hand_is_found_reformatted_in_the_middle_of_a_file(repo: GitRepo) -> None:
    repo.record(PY_OUTPUT, "anthropic", "claude-opus-4-5")
    repo.write("app.py", HOST)
    repo.commit("base")
    cut = HOST.index("def main")
    pasted = HOST[:cut] + PY_REFORMATTED + "\n\n" + HOST[cut:]
    repo.write("app.py", pasted)
    repo.commit("paste a chat answer by hand")

    assert repo.dg("attribute").exit_code == 0
    found = ranges(note(repo), "app.py")["anthropic/claude-opus-4-5"]
    assert covers(found, lines_of(pasted, PY_REFORMATTED), 0.7)  # never the host's own lines


def test_trivial_code_and_renames_add_nothing(repo: GitRepo) -> None:
    repo.record(PY_OUTPUT)
    repo.write("a.py", PY_OUTPUT)
    first = repo.commit("add")
    repo.git("mv", "a.py", "b.py")
    renamed = repo.commit("rename only")
    repo.write("main.py", 'import os\n\n\nif __name__ == "__main__":\n    main()\n')
    trivial = repo.commit("trivial")
    assert repo.dg("attribute", first, renamed, trivial).exit_code == 0
    assert [f["path"] for f in note(repo, first)["files"]] == ["a.py"]
    assert note(repo, renamed)["files"] == []
    assert note(repo, renamed)["metadata"]["dev.distillguard"]["added_lines"] == {}
    assert note(repo, trivial)["files"] == []
    assert note(repo, trivial)["metadata"]["dev.distillguard"]["ai_assisted"] is False


def test_ai_coauthor_trailers_mark_a_commit_ai_assisted(repo: GitRepo) -> None:
    messages = {
        "claude": "Fix a typo\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>",
        "codex": "Tidy\n\nSigned-off-by: Ana <ana@example.com>\n"
        "Co-authored-by: Codex <codex@openai.com>",
        "human": "Pair work\n\nCo-authored-by: Bob Builder <bob@example.com>",
        "inline": "Mention Co-authored-by: Claude <noreply@anthropic.com> in the body\n\nmore text",
    }
    shas = {}
    for name, message in messages.items():
        repo.write(f"{name}.txt", f"{name}\n")
        repo.git("add", ".")
        repo.git("commit", "-q", "-m", message)
        shas[name] = repo.head()
    assert repo.dg("attribute", *shas.values()).exit_code == 0
    meta = {n: note(repo, s)["metadata"]["dev.distillguard"] for n, s in shas.items()}
    assert meta["claude"]["ai_assisted"] is True
    assert meta["claude"]["coauthors"][0]["tool"] == "claude-code"
    assert meta["claude"]["coauthors"][0]["vendor"] == "anthropic"
    assert meta["codex"]["coauthors"][0]["vendor"] == "openai"
    assert meta["human"]["ai_assisted"] is False and meta["human"]["coauthors"] == []
    assert meta["inline"]["ai_assisted"] is False  # not a trailer


def test_attribute_json_and_bad_revision(repo: GitRepo) -> None:
    repo.record(JS_OUTPUT, "openai", "gpt-x")
    repo.write("g.js", JS_OUTPUT)
    repo.commit("add")
    result = repo.dg("attribute", "--json")
    (att,) = json.loads(result.output)
    assert att["files"][0]["contributions"][0]["ranges"] == [[1, 15]]
    bad = repo.dg("attribute", "no-such-rev")
    assert bad.exit_code == 2 and "error" in bad.output


def test_outputs_recorded_without_text_are_attributed_too(repo: GitRepo) -> None:
    new = NewOutput(vendor="anthropic", model="claude-private", text=PY_OUTPUT)
    with Ledger(repo.ledger_url) as ledger:
        ledger.record(privacy_form(new, FingerprintConfig()))
    repo.write("lib/merge.py", HOST + "\n\n" + PY_RENAMED)
    repo.commit("paste")
    assert repo.dg("attribute").exit_code == 0
    found = ranges(note(repo), "lib/merge.py")["anthropic/claude-private"]
    text = HOST + "\n\n" + PY_RENAMED
    assert covers(found, lines_of(text, PY_RENAMED), 0.75)
