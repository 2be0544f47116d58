"""Anthropic Messages: the SSE stream and the JSON body.

Stream: ``message_start`` (id, model, usage so far), ``content_block_start`` /
``content_block_delta`` (``text_delta``, ``thinking_delta``, ``input_json_delta`` whose
``partial_json`` pieces concatenate to the tool input) / ``content_block_stop``,
``message_delta`` (the *cumulative* usage: it overwrites what ``message_start`` said),
``message_stop`` (the final event). ``cache_creation_input_tokens`` and
``cache_read_input_tokens`` are counted apart from ``input_tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distillguard.capture.wire.base import (
    EventStream,
    Reply,
    as_dict,
    as_int,
    as_list,
    loads,
)
from distillguard.model import Usage

FINAL_EVENT = "message_stop"


@dataclass
class _Block:
    kind: str
    name: str = ""
    parts: list[str] = field(default_factory=list)
    start_input: Any = None


class Stream(EventStream):
    def __init__(self) -> None:
        super().__init__()
        self._blocks: dict[int, _Block] = {}

    def reply(self) -> Reply:
        self._flush()
        reply = self._reply
        reply.parts, reply.quoted, reply.tool_calls = [], [], []
        for index in sorted(self._blocks):
            _add_block(reply, self._blocks[index])
        return reply

    def _event(self, name: str, data: str) -> bool:
        event = loads(data)
        if not isinstance(event, dict):
            self._reply.malformed += 1
            return False
        kind = event.get("type", name)
        if kind == "message_start":
            message = as_dict(event.get("message"))
            self._reply.message_id = message.get("id")
            self._reply.model = message.get("model")
            update_usage(self._reply.tokens, message.get("usage"))
        elif kind == "content_block_start":
            self._start(event)
        elif kind == "content_block_delta":
            self._delta(event)
        elif kind == "message_delta":
            update_usage(self._reply.tokens, event.get("usage"))
        elif kind == FINAL_EVENT:
            self._reply.complete = True
            return True
        return False

    def _start(self, event: dict[str, Any]) -> None:
        block = as_dict(event.get("content_block"))
        kind = str(block.get("type", ""))
        new = _Block(kind, name=str(block.get("name", "")), start_input=block.get("input"))
        first = block.get("text") if kind == "text" else block.get("thinking")
        if isinstance(first, str) and first:
            new.parts.append(first)
        index = as_int(event.get("index"))
        self._blocks[len(self._blocks) if index is None else index] = new

    def _delta(self, event: dict[str, Any]) -> None:
        block = self._blocks.get(as_int(event.get("index")) or 0)
        delta = as_dict(event.get("delta"))
        piece = delta.get("text") or delta.get("thinking") or delta.get("partial_json")
        if block is not None and isinstance(piece, str):
            block.parts.append(piece)


def _add_block(reply: Reply, block: _Block) -> None:
    if block.kind in ("text", "thinking"):
        reply.add_text("".join(block.parts))
    elif block.kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
        arguments = "".join(block.parts) if block.parts else block.start_input
        reply.add_tool(block.name, arguments if arguments != "" else {})


def from_body(reply: Reply, body: dict[str, Any]) -> None:
    """A non-streamed Messages response."""
    reply.message_id = body.get("id")
    reply.model = body.get("model")
    for block in as_list(body.get("content")):
        block = as_dict(block)
        kind = block.get("type")
        if kind == "text":
            reply.add_text(block.get("text"))
        elif kind == "thinking":
            reply.add_text(block.get("thinking"))
        elif kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
            reply.add_tool(block.get("name"), block.get("input"))
    update_usage(reply.tokens, body.get("usage"))


def update_usage(tokens: Usage, usage: Any) -> None:
    """Overwrite the counts ``usage`` carries (message_delta's are cumulative)."""
    usage = as_dict(usage)
    for attr, key in (
        ("input", "input_tokens"),
        ("output", "output_tokens"),
        ("cache_read", "cache_read_input_tokens"),
        ("cache_write", "cache_creation_input_tokens"),
    ):
        value = as_int(usage.get(key))
        if value is not None:
            setattr(tokens, attr, value)
    hour = as_int(as_dict(usage.get("cache_creation")).get("ephemeral_1h_input_tokens"))
    if hour is not None:
        tokens.cache_write_1h = hour


def request_text(body: dict[str, Any]) -> list[str]:
    """The new non-assistant content of this turn: the messages after the last assistant one
    (all of them in a single-turn call); never the system prompt."""
    messages = [as_dict(m) for m in as_list(body.get("messages"))]
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    texts: list[str] = []
    for message in messages[last + 1 :]:
        if message.get("role") == "user":
            texts.extend(_content_text(message.get("content")))
    return texts


def _content_text(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    for block in as_list(content):
        block = as_dict(block)
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_result":
            texts.extend(_content_text(block.get("content")))
    return texts
