"""The installed hooks, run by the real Claude Code and Codex against the scripted upstream.

Each edit lands in the ledger with the answer that made it, under the upstream's message id, so
the hook, an import and the gateway merge. A hook whose ledger cannot be reached, or hangs,
logs and exits 0 within its budget, and the agent carries on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.ledger import Ledger
from tests.capture.hooks.agents import (
    claude_write_edit_turn,
    enqueue_claude,
    run_codex_keeping_config,
)
from tests.clis.gateway import serving
from tests.clis.harness import CLAUDE_MODEL, CODEX_MODEL, Clis, codex_patch_turn, run_claude
from tests.fakes.vendors import VendorUpstream
from tests.samples import JS_OUTPUT, PY_OUTPUT

OLD = "    if not intervals:\n        return []\n"
NEW = "    if not intervals:\n        return []  # nothing to merge\n"


def install(agent: str, cwd: Path, env: dict[str, str], *scope: str) -> None:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, ["install", agent, *scope], env=env)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output


def hook_log(home: Path) -> str:
    log = home / "hooks.log"
    return log.read_text() if log.exists() else ""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def test_claude_code_hook_records_each_edit(
    clis: Clis, vendor_upstream: VendorUpstream, project: Path, tmp_path: Path
) -> None:
    home, dg = tmp_path / "home", tmp_path / "dg"
    db = f"sqlite:///{dg / 'ledger.db'}"
    install("claude-code", project, {"DISTILLGUARD_HOME": str(dg), "DISTILLGUARD_DB": db},
            "--scope", "project")  # fmt: skip
    turn = claude_write_edit_turn(project / "intervals.py", PY_OUTPUT, OLD, NEW)
    enqueue_claude(vendor_upstream, turn)

    run = run_claude(clis.claude, base_url=vendor_upstream.base_url, api_key="sk-ant-x",
                     prompt="Write intervals.py", cwd=project, home=home)  # fmt: skip

    assert run.returncode == 0, run.describe()
    assert turn.path.read_text() == turn.final
    assert hook_log(dg).count("from the transcript") == 2, hook_log(dg)
    with Ledger(db) as ledger:
        outputs = {o.message_id: o for o in ledger.iter_outputs()}
        edits = ledger.list_edits(path=str(turn.path))
    assert set(outputs) == {turn.write_id, turn.edit_id}  # the final answer wrote no file
    write = outputs[turn.write_id]
    assert (write.model, write.tool, write.session) == (CLAUDE_MODEL, "claude-code",
                                                        run.transcripts[0].stem)  # fmt: skip
    assert write.text == "Writing the file.\n\n" + PY_OUTPUT
    assert write.input_tokens == 410 and write.cache_read_tokens == 1200
    assert [(e.tool_name, e.added, e.removed, e.source) for e in edits] == [
        ("Write", PY_OUTPUT, None, "hook"),
        ("Edit", NEW, OLD, "hook"),
    ]
    assert [e.output_id for e in edits] == [write.id, outputs[turn.edit_id].id]

    result = CliRunner().invoke(
        main, ["import", "claude-code", str(home / ".claude")], env={"DISTILLGUARD_DB": db}
    )
    assert "3 answer(s): 1 new output(s), 0 new edit(s)" in result.output  # only the last one


def test_edits_only_hook_joins_the_gateways_record(
    clis: Clis, vendor_upstream: VendorUpstream, project: Path, tmp_path: Path
) -> None:
    turn = claude_write_edit_turn(project / "intervals.py", PY_OUTPUT, OLD, NEW)
    enqueue_claude(vendor_upstream, turn)
    ids = (turn.write_id, turn.edit_id, turn.answer_id)
    with serving(tmp_path / "gateway", vendor_upstream.base_url) as served:
        install("claude-code", project, {"DISTILLGUARD_HOME": str(served.home)},
                "--scope", "project", "--edits-only")  # fmt: skip
        run = run_claude(clis.claude, base_url=served.endpoint("claude"), api_key=served.key,
                         prompt="Write it", cwd=project, home=tmp_path / "home")  # fmt: skip
        assert run.returncode == 0, run.describe()
        recorded = served.outputs(ids)
    with Ledger(f"sqlite:///{(served.home / 'ledger.db').resolve()}") as ledger:
        assert ledger.count() == 3, hook_log(served.home)  # one output per answer: the gateway's
        edits = ledger.list_edits()
        assert ledger.verify().ok
    assert [o.message_id for o in recorded] == list(ids)
    assert {(o.actor, o.team) for o in recorded} == {("ana", "infra")}
    assert all(o.cost_usd is not None and o.key_id for o in recorded)
    assert [e.output_id for e in edits] == [o.id for o in recorded[:2]]
    assert [(e.added, e.removed) for e in edits] == [(PY_OUTPUT, None), (NEW, OLD)]


def test_codex_hook_is_trusted_and_records_the_patch(
    clis: Clis, vendor_upstream: VendorUpstream, project: Path, tmp_path: Path
) -> None:
    home, dg = tmp_path / "home", tmp_path / "dg"
    db = f"sqlite:///{dg / 'ledger.db'}"
    env = {"DISTILLGUARD_HOME": str(dg), "DISTILLGUARD_DB": db, "CODEX_HOME": str(home / ".codex")}
    install("codex", project, env)
    turn = codex_patch_turn(project, "group.js", JS_OUTPUT, "Added group.js.")
    vendor_upstream.enqueue(*turn.items, when=turn.when)

    run = run_codex_keeping_config(clis.codex, base_url=vendor_upstream.base_url + "/v1",
                                   api_key="sk-x", prompt="Add group.js", cwd=project,
                                   home=home)  # fmt: skip

    assert run.returncode == 0, run.describe()
    assert "hook: PostToolUse Completed" in run.stderr  # trusted: no bypass flag needed
    with Ledger(db) as ledger:
        (output,) = ledger.iter_outputs()
        (edit,) = ledger.list_edits()
    assert output.message_id == turn.message_ids[0]  # the response id: joins the gateway's
    assert (output.model, output.tool) == (CODEX_MODEL, "codex")
    assert (edit.path, edit.added, edit.tool_name, edit.source) == (
        str(turn.file), JS_OUTPUT, "apply_patch", "hook")  # fmt: skip
    assert edit.output_id == output.id


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung database)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def run_hook(payload: dict[str, object], env: dict[str, str]) -> tuple[int, float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "distillguard.capture.hooks", "claude-code"],
        input=json.dumps(payload),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, time.monotonic() - started, done.stdout + done.stderr


PAYLOAD = {
    "session_id": "s1",
    "transcript_path": "/nonexistent/s1.jsonl",
    "cwd": "/work",
    "hook_event_name": "PostToolUse",
    "tool_name": "Write",
    "tool_input": {"file_path": "/work/a.py", "content": PY_OUTPUT},
    "tool_use_id": "toolu_1",
}


def test_unreachable_ledger_is_logged_and_exits_0(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"DISTILLGUARD_HOME": str(tmp_path), "DISTILLGUARD_DB":
           f"postgresql+psycopg://dg@127.0.0.1:{port}/ledger"}  # fmt: skip
    code, seconds, printed = run_hook(PAYLOAD, env)
    assert (code, printed) == (0, "")
    assert seconds < 5
    log = hook_log(tmp_path)
    assert "hook error" in log and "LedgerError: cannot connect to the ledger" in log


def test_hung_ledger_is_stopped_by_the_budget(black_hole: int, tmp_path: Path) -> None:
    env = {"DISTILLGUARD_HOME": str(tmp_path), "DISTILLGUARD_HOOK_BUDGET": "1.5",
           "DISTILLGUARD_DB": f"postgresql+psycopg://dg@127.0.0.1:{black_hole}/ledger"}  # fmt: skip
    code, seconds, printed = run_hook(PAYLOAD, env)
    assert (code, printed) == (0, "")
    assert 1.5 <= seconds < 5
    assert "took over 1.5s" in hook_log(tmp_path)


def test_claude_code_carries_on_when_the_hook_cannot_record(
    clis: Clis, vendor_upstream: VendorUpstream, project: Path, tmp_path: Path, black_hole: int
) -> None:
    dg = tmp_path / "dg"
    db = f"postgresql+psycopg://dg@127.0.0.1:{black_hole}/ledger"
    install("claude-code", project, {"DISTILLGUARD_HOME": str(dg), "DISTILLGUARD_DB": db},
            "--scope", "project")  # fmt: skip
    turn = claude_write_edit_turn(project / "intervals.py", PY_OUTPUT, OLD, NEW)
    enqueue_claude(vendor_upstream, turn)
    started = time.monotonic()
    run = run_claude(clis.claude, base_url=vendor_upstream.base_url, api_key="sk-ant-x",
                     prompt="Write intervals.py", cwd=project, home=tmp_path / "home")  # fmt: skip
    assert run.returncode == 0, run.describe()
    assert turn.path.read_text() == turn.final
    assert time.monotonic() - started < 60
    assert hook_log(dg).count("took over 5s") == 2
