"""Codex transcripts: ``<codex home>/sessions/YYYY/MM/DD/rollout-<time>-<session>.jsonl``.

Records are ``{"timestamp", "type", "payload"}``. ``session_meta`` names the session and its
working directory; ``turn_context`` the model (and cwd) of each turn. ``response_item``
payloads are the conversation items: the model's (assistant ``message``, ``reasoning``,
``function_call``, ``custom_tool_call`` such as ``apply_patch``, ``local_shell_call``) gather
into the current answer, which the next ``token_usage_record`` closes with the upstream's
response id (``resp_...``, the join key with the gateway) and usage. User messages and tool
outputs are the request of the next answer. Rollouts of older Codex versions have no
``token_usage_record``: there an ``event_msg`` ``token_count`` closes the answer, which then has
no response id (its key is its content and position).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distillguard.capture.transcripts.edits import Call, edits_of
from distillguard.capture.transcripts.records import (
    Answer,
    Context,
    Pending,
    Problem,
    as_str,
    output_of,
    read_lines,
    timestamp,
)
from distillguard.capture.wire import openai_responses
from distillguard.capture.wire.base import Reply, as_dict, as_int
from distillguard.model import Usage

MODEL_ITEMS = openai_responses.ASSISTANT_ITEMS


class _State:
    """Where a rollout is: the session, model and cwd so far, the answer being gathered."""

    def __init__(self, path: Path, ctx: Context) -> None:
        self.path = path
        self.ctx = ctx
        self.session: str | None = None
        self.model = "unknown"
        self.cwd: str | None = None
        self.request: list[str] = []
        self.items: list[dict[str, Any]] = []
        self.started: Any = None
        self.first_line = 0

    def meta(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "session_meta":
            self.session = as_str(payload.get("id")) or as_str(payload.get("session_id"))
        self.cwd = as_str(payload.get("cwd")) or self.cwd
        self.model = as_str(payload.get("model")) or self.model

    def item(self, lineno: int, record: dict[str, Any], payload: dict[str, Any]) -> None:
        if payload.get("role") == "assistant" or payload.get("type") in MODEL_ITEMS:
            if not self.items:
                self.started, self.first_line = record.get("timestamp"), lineno
            self.items.append(payload)
        elif not self.items:
            self.request.extend(openai_responses.request_text({"input": [payload]}))

    def close(self, response_id: str | None, usage: Any) -> Answer | None:
        items, self.items = self.items, []
        request, self.request = self.request, []
        if not items:
            return None
        reply = Reply()
        openai_responses.add_items(reply, items)
        reply.tokens = _tokens(usage)
        if not reply.text:
            return None
        pending = Pending(response_id, self.model, self.session, timestamp(self.started),
                          self.cwd, request)  # fmt: skip
        source = f"codex:{self.session or self.path.name}:{self.first_line}"
        output = output_of(pending, reply, self.ctx, source)
        calls = [c for c in (_call(i) for i in items) if c is not None]
        edits = tuple(edits_of(output, calls, self.cwd))
        return Answer(output, edits, tuple(c[1] for c in calls if c[1]))


def read(path: Path, ctx: Context) -> Iterator[Answer | Problem]:
    """The answers of one Codex rollout, in order, and its bad lines."""
    state = _State(path, ctx)
    for item in read_lines(path):
        if isinstance(item, Problem):
            yield item
            continue
        lineno, record = item
        answer = _step(state, lineno, record)
        if answer is not None:
            yield answer
    answer = state.close(None, None)  # cut off before its usage was written
    if answer is not None:
        yield answer


def _step(state: _State, lineno: int, record: dict[str, Any]) -> Answer | None:
    kind = record.get("type")
    payload = as_dict(record.get("payload"))
    if kind in ("session_meta", "turn_context"):
        state.meta(kind, payload)
    elif kind == "response_item":
        state.item(lineno, record, payload)
    elif kind == "token_usage_record":
        state.session = state.session or as_str(payload.get("session_id"))
        return state.close(as_str(payload.get("response_id")), payload.get("usage"))
    elif kind == "event_msg" and payload.get("type") == "token_count" and state.items:
        last = as_dict(payload.get("info")).get("last_token_usage")
        return state.close(None, last)
    return None


def _call(item: dict[str, Any]) -> Call | None:
    kind = item.get("type")
    call_id = as_str(item.get("call_id"))
    if kind == "custom_tool_call":
        return str(item.get("name") or ""), call_id, item.get("input")
    if kind == "function_call":
        return str(item.get("name") or ""), call_id, item.get("arguments")
    if kind == "local_shell_call":
        return "local_shell", call_id, as_dict(item.get("action"))
    return None


def _tokens(usage: Any) -> Usage:
    """Codex's usage: ``input_tokens`` include ``cached_input_tokens`` (priced apart)."""
    usage = as_dict(usage)
    tokens = Usage()
    total = as_int(usage.get("input_tokens"))
    cached = as_int(usage.get("cached_input_tokens")) or 0
    if total is not None:
        tokens.input, tokens.cache_read = max(total - cached, 0), cached
    tokens.output = as_int(usage.get("output_tokens"))
    tokens.reasoning = as_int(usage.get("reasoning_output_tokens"))
    return tokens
