"""Importing transcripts with values no agent should write: absurd token counts, dates out of
range in UTC, broken lines. Each bad value is handled where it is read; every answer is kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distillguard.capture.transcripts import claude_code, codex
from distillguard.capture.transcripts.records import Answer, Context, timestamp
from distillguard.ledger import Ledger
from distillguard.model import MAX_TOKENS

EARLY = "0001-01-01T00:00:00+01:00"  # in range as written, before year 1 in UTC


def _jsonl(path: Path, *records: object, raw: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records) + raw)
    return path


def _claude(path: Path, usage: dict[str, Any], raw: bytes = b"") -> Path:
    message = {"id": "msg_odd", "model": "claude-x", "usage": usage,
               "content": [{"type": "text", "text": "An answer from Claude."}]}  # fmt: skip
    return _jsonl(
        path,
        {"type": "user", "message": {"role": "user", "content": "go"}},
        {"type": "assistant", "sessionId": "s", "timestamp": EARLY, "message": message},
        raw=raw,
    )


def _codex(path: Path, usage: dict[str, Any]) -> Path:
    answer = {"type": "message", "role": "assistant",
              "content": [{"type": "output_text", "text": "An answer from Codex."}]}  # fmt: skip
    return _jsonl(
        path,
        {"timestamp": EARLY, "type": "session_meta", "payload": {"id": "s", "cwd": "/w"}},
        {"timestamp": EARLY, "type": "turn_context", "payload": {"model": "gpt-x"}},
        {"timestamp": EARLY, "type": "response_item", "payload": answer},
        {"timestamp": EARLY, "type": "event_msg",
         "payload": {"type": "token_count", "info": {"last_token_usage": usage}}},
    )  # fmt: skip


def test_timestamps_out_of_range_in_utc_are_unknown() -> None:
    assert timestamp(EARLY) is None and timestamp("9999-12-31T23:59:59-01:00") is None
    assert timestamp("2025-01-01T00:00:00Z") is not None


def test_readers_clamp_absurd_counts_and_drop_negative_ones(tmp_path: Path) -> None:
    path = _claude(tmp_path / "s.jsonl", {"input_tokens": 2**63, "output_tokens": -4})
    (claude,) = claude_code.read(path, Context("anthropic", "claude-code"))
    assert isinstance(claude, Answer)
    assert (claude.output.input_tokens, claude.output.output_tokens) == (MAX_TOKENS, None)
    assert claude.output.created_at is None
    usage = {"input_tokens": 2**63, "cached_input_tokens": 2**63 + 1, "output_tokens": 3,
             "reasoning_output_tokens": 2**63}  # fmt: skip
    (answer,) = codex.read(
        _codex(tmp_path / "rollout-1-s.jsonl", usage), Context("openai", "codex")
    )
    assert isinstance(answer, Answer)
    out = answer.output
    assert (out.cache_read_tokens, out.output_tokens, out.reasoning_tokens) == (
        MAX_TOKENS, 3, MAX_TOKENS,
    )  # fmt: skip


def test_import_records_every_answer_despite_odd_values(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """2^63 tokens and an early date crashed the import with a traceback (exit 1)."""
    claude_dir, codex_dir = tmp_path / "claude", tmp_path / "codex"
    claude_dir.mkdir()
    codex_dir.mkdir()
    _claude(claude_dir / "s.jsonl", {"input_tokens": 2**63, "output_tokens": 5})
    _codex(codex_dir / "rollout-1-s.jsonl", {"input_tokens": 2**63, "output_tokens": 2**63})
    first = run("import", "claude-code", str(claude_dir))
    second = run("import", "codex", str(codex_dir))
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    with Ledger(f"sqlite:///{tmp_path / 'home' / 'ledger.db'}") as ledger:
        outputs = {o.text: o for o in ledger.iter_outputs()}
    claude, codex_out = outputs["An answer from Claude."], outputs["An answer from Codex."]
    assert claude.input_tokens == MAX_TOKENS and claude.created_at.year >= 2025
    assert (codex_out.input_tokens, codex_out.output_tokens) == (MAX_TOKENS, MAX_TOKENS)


def test_import_strict_fails_when_a_line_was_skipped(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _claude(tmp_path / "s.jsonl", {"output_tokens": 5}, raw=b'{"type": "assistant", "mes\n')
    lenient = run("import", "claude-code", str(path))
    assert lenient.exit_code == 0 and "1 new output(s)" in lenient.output
    strict = run("import", "claude-code", "--strict", str(path))
    assert strict.exit_code == 2 and "1 line(s) or file(s) skipped" in strict.output
    assert f"{path.name}:3" in strict.output.replace("\n", "")
    clean = _claude(tmp_path / "clean.jsonl", {"output_tokens": 5})
    assert run("import", "claude-code", "--strict", str(clean)).exit_code == 0
