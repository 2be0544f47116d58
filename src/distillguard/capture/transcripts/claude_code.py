"""Claude Code transcripts: ``<config dir>/projects/<project>/<session id>.jsonl``.

Each content block of an answer is its own ``{"type": "assistant", "message": {...}}`` record,
the ``message`` being the vendor's (``id`` = the ``msg_...`` id, ``model``, ``content``,
``usage``); the blocks of one answer share its id and are gathered here into one body, which the
gateway's own Anthropic parser turns into the output text (text, thinking, tool inputs as
written). ``user`` records carry the prompt and the ``tool_result`` blocks: the request of the
next answer, never attributed. Claude Code's own ``<synthetic>`` messages (local errors) are no
model output and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distillguard.capture.transcripts.edits import edits_of
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
from distillguard.capture.wire import anthropic as anthropic_wire
from distillguard.capture.wire.base import Reply, as_dict, as_list

SYNTHETIC = "<synthetic>"


class _Message(Pending):
    """A Claude answer being gathered: its content blocks and last usage."""

    def __init__(self, record: dict[str, Any], message: dict[str, Any], request: list[str]):
        super().__init__(
            message_id=as_str(message.get("id")),
            model=as_str(message.get("model")) or "unknown",
            session=as_str(record.get("sessionId")),
            created_at=timestamp(record.get("timestamp")),
            cwd=as_str(record.get("cwd")),
            request=request,
        )
        self.blocks: list[dict[str, Any]] = []
        self.usage: Any = None

    def add(self, message: dict[str, Any]) -> None:
        for block in as_list(message.get("content")):
            block = as_dict(block)
            if block and block not in self.blocks:
                self.blocks.append(block)
        if message.get("usage") is not None:
            self.usage = message.get("usage")


def read(path: Path, ctx: Context) -> Iterator[Answer | Problem]:
    """The answers of one Claude Code transcript, in order, and its bad lines."""
    messages: dict[str, _Message] = {}
    request: list[str] = []
    for item in read_lines(path):
        if isinstance(item, Problem):
            yield item
            continue
        lineno, record = item
        kind = record.get("type")
        message = as_dict(record.get("message"))
        if kind == "user":
            request.extend(anthropic_wire.request_text({"messages": [message]}))
        elif kind == "assistant" and message.get("model") != SYNTHETIC:
            key = as_str(message.get("id")) or f"{path.name}:{lineno}"
            if key not in messages:
                messages[key] = _Message(record, message, request)
                request = []
            messages[key].add(message)
    for key, gathered in messages.items():
        answer = _answer(gathered, ctx, f"claude-code:{key}")
        if answer is not None:
            yield answer


def _answer(gathered: _Message, ctx: Context, source_id: str) -> Answer | None:
    reply = Reply()
    body = {"id": gathered.message_id, "model": gathered.model, "content": gathered.blocks,
            "usage": gathered.usage}  # fmt: skip
    anthropic_wire.from_body(reply, body)
    if not reply.text:
        return None
    output = output_of(gathered, reply, ctx, source_id)
    blocks = [b for b in gathered.blocks if b.get("type") == "tool_use"]
    calls = [(str(b.get("name") or ""), as_str(b.get("id")), b.get("input")) for b in blocks]
    edits = tuple(edits_of(output, calls, gathered.cwd))
    return Answer(output, edits, tuple(c[1] for c in calls if c[1]))
