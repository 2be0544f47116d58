"""The hook's recording step without an agent: a call its transcript does not (yet) hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from distillguard.capture.hooks.record import HookCall, record_call
from distillguard.capture.transcripts.records import Context
from distillguard.ledger import Ledger
from tests.samples import PY_OUTPUT


def call(tmp_path: Path, tool_input: dict[str, object], name: str = "Edit") -> HookCall:
    payload = {
        "session_id": "s1",
        "transcript_path": str(tmp_path / "missing.jsonl"),
        "cwd": str(tmp_path),
        "tool_name": name,
        "tool_input": tool_input,
        "tool_use_id": "toolu_9",
    }
    return HookCall.parse("claude-code", payload)


def test_a_call_missing_from_the_transcript_is_recorded_from_its_input(tmp_path: Path) -> None:
    ctx = Context("anthropic", "claude-code")
    edit = {"file_path": "m.py", "old_string": "pass\n", "new_string": PY_OUTPUT}
    with Ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        result = record_call(ledger, call(tmp_path, edit), ctx)
        assert result is not None and not result.from_transcript
        assert result.output_created and result.edits_created == 1
        output = ledger.get(result.output_id)
        (recorded,) = ledger.list_edits(output_id=result.output_id)
        again = record_call(ledger, call(tmp_path, edit), ctx)
        nothing = record_call(ledger, call(tmp_path, {"command": "ls"}, "Bash"), ctx)
    assert output is not None and output.message_id is None
    assert (output.text, output.request, output.session) == (PY_OUTPUT, "pass\n", "s1")
    assert output.source_id == "claude-code:s1:toolu_9"
    assert (recorded.path, recorded.added, recorded.removed) == (
        str(tmp_path / "m.py"), PY_OUTPUT, "pass\n")  # fmt: skip
    assert again is not None and not again.output_created and again.edits_created == 0
    assert nothing is None  # a tool that writes no file: nothing recorded


def test_the_hidden_hook_command_records_and_exits_0(tmp_path: Path) -> None:
    payload = {
        "session_id": "s2",
        "transcript_path": str(tmp_path / "missing.jsonl"),
        "cwd": str(tmp_path),
        "tool_name": "Write",
        "tool_input": {"file_path": "w.py", "content": PY_OUTPUT},
        "tool_use_id": "toolu_7",
    }
    db = f"sqlite:///{tmp_path / 'l.db'}"
    env = {**os.environ, "DISTILLGUARD_HOME": str(tmp_path), "DISTILLGUARD_DB": db}
    for raw in (json.dumps(payload), "not json"):
        done = subprocess.run(
            [str(Path(sys.executable).parent / "distillguard"), "hook", "claude-code"],
            input=raw, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    log = (tmp_path / "hooks.log").read_text()
    assert "NOT in the transcript" in log and "is not JSON" in log
    with Ledger(db) as ledger:
        (edit,) = ledger.list_edits()
    assert (edit.path, edit.added, edit.call_id) == (str(tmp_path / "w.py"), PY_OUTPUT, "toolu_7")


def test_the_hook_path_imports_nothing_heavy(tmp_path: Path) -> None:
    payload = {"tool_name": "Write", "tool_use_id": "t", "cwd": str(tmp_path),
               "tool_input": {"file_path": "a.py", "content": "x = 1\n"}}  # fmt: skip
    env = {**os.environ, "DISTILLGUARD_HOME": str(tmp_path)}
    env["DISTILLGUARD_DB"] = f"sqlite:///{tmp_path / 'l.db'}"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "distillguard.capture.hooks", "claude-code"],
        input=json.dumps(payload), env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "sqlalchemy" in done.stderr  # it did record
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()}
    assert imported.isdisjoint({"numba", "numpy", "pyarrow", "httpx", "uvicorn", "click", "rich"})
