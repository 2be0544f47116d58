"""The transcript readers on shapes the scripted runs do not produce: multi-file patches,
MultiEdit, older Codex rollouts, Claude Code's synthetic messages, broken lines."""

from __future__ import annotations

import json
from pathlib import Path

from distillguard.capture.transcripts import claude_code, codex
from distillguard.capture.transcripts.edits import file_writes
from distillguard.capture.transcripts.records import Answer, Context, Problem

PATCH = """*** Begin Patch
*** Add File: src/new.py
+def added():
+    return 1
*** Update File: src/old.py
*** Move to: src/renamed.py
@@ def kept():
     keep = True
-    return keep
+    return not keep
*** Delete File: src/gone.py
*** End Patch
"""


def test_a_patch_is_split_per_file_and_only_added_lines_are_the_models() -> None:
    writes = file_writes("apply_patch", PATCH, "/repo")
    assert [(w.path, w.added, w.removed) for w in writes] == [
        ("/repo/src/new.py", "def added():\n    return 1\n", None),
        ("/repo/src/renamed.py", "    return not keep\n", "    keep = True\n    return keep\n"),
    ]
    shell = file_writes("shell", {"command": ["apply_patch", PATCH]}, "/repo")
    assert shell == writes
    hook = file_writes("apply_patch", {"command": PATCH}, "/repo")  # Codex's hook payload
    assert hook == writes


def test_multiedit_is_one_edit_with_every_new_string() -> None:
    edits = [{"old_string": "a = 1", "new_string": "a = 2"},
             {"old_string": "b = 1", "new_string": "b = 2"}]  # fmt: skip
    (write,) = file_writes("MultiEdit", {"file_path": "/x.py", "edits": edits}, None)
    assert (write.added, write.removed) == ("a = 2\nb = 2", "a = 1\nb = 1")
    assert file_writes("Bash", {"command": "ls"}, None) == []
    assert file_writes("Write", {"content": "no path"}, None) == []


def jsonl(path: Path, *records: object, raw: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records) + raw)
    return path


def answers(items: list[Answer | Problem]) -> list[Answer]:
    return [i for i in items if isinstance(i, Answer)]


def test_claude_code_skips_synthetic_messages_and_reports_bad_lines(tmp_path: Path) -> None:
    def assistant(mid: str, model: str, block: dict[str, object]) -> dict[str, object]:
        message = {"id": mid, "model": model, "content": [block], "usage": {"output_tokens": 3}}
        return {"type": "assistant", "sessionId": "s", "cwd": "/w", "message": message}

    path = jsonl(
        tmp_path / "s.jsonl",
        {"type": "user", "message": {"role": "user", "content": "write it"}},
        assistant("msg_1", "claude-x", {"type": "text", "text": "Sure."}),
        assistant("msg_1", "claude-x", {"type": "tool_use", "id": "toolu_1", "name": "Write",
                                        "input": {"file_path": "a.py", "content": "x = 1\n"}}),
        assistant("syn", "<synthetic>", {"type": "text", "text": "API Error"}),
        [1, 2],
        raw=b'{"type": "assistant", "mess\n',
    )  # fmt: skip
    items = list(claude_code.read(path, Context("anthropic", "claude-code")))
    problems = [i for i in items if isinstance(i, Problem)]
    assert [p.where for p in problems] == [f"{path}:5", f"{path}:6"]
    (answer,) = answers(items)
    assert answer.output.text == "Sure.\n\nx = 1\n" and answer.output.request == "write it"
    assert answer.call_ids == ("toolu_1",)
    assert [(e.path, e.added) for e in answer.edits] == [("/w/a.py", "x = 1\n")]


def test_older_codex_rollouts_close_answers_on_token_count(tmp_path: Path) -> None:
    patch = "*** Begin Patch\n*** Add File: a.py\n+x = 1\n*** End Patch\n"
    usage = {"input_tokens": 100, "cached_input_tokens": 40, "output_tokens": 7}
    path = jsonl(
        tmp_path / "rollout-1-s.jsonl",
        {"type": "session_meta", "payload": {"id": "s", "cwd": "/w"}},
        {"type": "turn_context", "payload": {"model": "gpt-x", "cwd": "/w"}},
        {"type": "response_item", "payload": {"type": "message", "role": "user",
                                              "content": [{"type": "input_text", "text": "go"}]}},
        {"type": "response_item", "payload": {"type": "custom_tool_call", "name": "apply_patch",
                                              "call_id": "call_1", "input": patch}},
        {"type": "event_msg", "payload": {"type": "token_count",
                                          "info": {"last_token_usage": usage}}},
    )  # fmt: skip
    (answer,) = answers(list(codex.read(path, Context("openai", "codex"))))
    output = answer.output
    assert (output.message_id, output.model, output.session) == (None, "gpt-x", "s")
    assert output.source_id == "codex:s:4" and output.request == "go"
    assert (output.input_tokens, output.cache_read_tokens, output.output_tokens) == (60, 40, 7)
    assert [(e.path, e.added, e.call_id) for e in answer.edits] == [("/w/a.py", "x = 1\n",
                                                                      "call_1")]  # fmt: skip
