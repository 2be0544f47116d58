"""The real Claude Code and Codex CLIs straight against the fake upstream: what they send, and
that a scripted turn makes them write a file and answer. The gateway tests run the same turns
through ``distillguard serve`` and expect the same."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clis.harness import (
    CLAUDE_MODEL,
    CODEX_MODEL,
    Clis,
    claude_write_turn,
    codex_patch_turn,
    run_claude,
    run_codex,
    tool_results,
    transcript_records,
)
from tests.fakes.vendors import VendorUpstream

CONTENT = 'def greet(name):\n    return f"Hello, {name}!"\n'


def test_claude_code_writes_a_file(clis: Clis, vendor_upstream: VendorUpstream, tmp_path: Path):
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    turn = claude_write_turn(cwd, "greet.py", CONTENT, "Wrote greet.py.")
    vendor_upstream.enqueue(*turn.items, when=turn.when)

    run = run_claude(
        clis.claude,
        base_url=vendor_upstream.base_url,
        api_key="sk-ant-direct",
        prompt="Write greet.py",
        cwd=cwd,
        home=home,
    )

    assert run.returncode == 0, run.describe()
    assert run.stdout.strip() == turn.answer
    assert turn.file.read_text() == turn.content
    assert vendor_upstream.pending == 0
    calls = vendor_upstream.requests
    assert len(calls) == 2  # no count_tokens, model list or side calls with these settings
    session = calls[0].header("x-claude-code-session-id")
    assert session
    for call in calls:
        assert (call.method, call.path, call.query) == ("POST", "/v1/messages", "beta=true")
        assert call.header("x-api-key") == "sk-ant-direct"
        assert call.header("x-claude-code-session-id") == session
        assert call.header("anthropic-version") == "2023-06-01"
        assert "claude-code-20250219" in (call.header("anthropic-beta") or "")
        body = call.json()
        assert body["model"] == CLAUDE_MODEL and body["stream"] is True
        assert json.loads(body["metadata"]["user_id"])["session_id"] == session
    (result,) = tool_results(calls[1])
    assert result["tool_use_id"] == turn.call_id

    (transcript,) = run.transcripts
    assert transcript.stem == session
    records = transcript_records(transcript)
    ids = {r["message"]["id"] for r in records if r.get("type") == "assistant"}
    assert ids == set(turn.message_ids)  # the vendor's message ids: the join key
    writes = [
        block["input"]
        for r in records
        if r.get("type") == "assistant"
        for block in r["message"]["content"]
        if block.get("type") == "tool_use"
    ]
    assert writes == [{"file_path": str(turn.file), "content": CONTENT}]


def test_codex_applies_a_patch(clis: Clis, vendor_upstream: VendorUpstream, tmp_path: Path):
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    turn = codex_patch_turn(cwd, "greet.py", CONTENT, "Added greet.py.")
    vendor_upstream.enqueue(*turn.items, when=turn.when)

    run = run_codex(
        clis.codex,
        base_url=vendor_upstream.base_url + "/v1",
        api_key="sk-direct",
        prompt="Add greet.py",
        cwd=cwd,
        home=home,
    )

    assert run.returncode == 0, run.describe()
    assert run.stdout.strip() == turn.answer
    assert turn.file.read_text() == turn.content
    assert vendor_upstream.pending == 0
    calls = vendor_upstream.requests
    assert len(calls) == 2  # no /v1/models with a custom provider
    session = calls[0].header("session-id")
    assert session
    turn_ids = set()
    for call in calls:
        assert (call.method, call.path, call.query) == ("POST", "/v1/responses", "")
        assert call.header("authorization") == "Bearer sk-direct"
        assert call.header("thread-id") == session
        assert call.header("x-codex-window-id") == f"{session}:0"
        metadata = json.loads(call.header("x-codex-turn-metadata") or "{}")
        assert metadata["session_id"] == session and metadata["model"] == CODEX_MODEL
        turn_ids.add(metadata["turn_id"])
        body = call.json()
        assert body["model"] == CODEX_MODEL and body["stream"] is True
        assert body["client_metadata"]["session_id"] == session
        assert "apply_patch" in [t.get("name") for t in body["tools"]]
    assert len(turn_ids) == 1  # one user turn, two model calls
    (result,) = tool_results(calls[1])
    assert result["type"] == "custom_tool_call_output" and result["call_id"] == turn.call_id

    (transcript,) = run.transcripts
    assert transcript.name.endswith(f"-{session}.jsonl")
    records = transcript_records(transcript)
    payloads = [r["payload"] for r in records if r.get("type") == "response_item"]
    patches = [p["input"] for p in payloads if p.get("type") == "custom_tool_call"]
    usage = [r["payload"] for r in records if r.get("type") == "token_usage_record"]
    assert {u["response_id"] for u in usage} == set(turn.message_ids)  # the join key
    assert len(patches) == 1 and '+    return f"Hello, {name}!"' in patches[0]
