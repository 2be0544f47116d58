"""What the fake vendor upstream answers: replies made of blocks, independent of wire format.

A :class:`Reply` is rendered in whichever format the request came in (Anthropic Messages,
OpenAI Chat Completions, OpenAI Responses; streamed or not). A :class:`Failure` is an error in
the vendor's own format, either as the whole response or as an error event mid-stream.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Text:
    """Assistant text."""

    text: str


@dataclass(frozen=True)
class Thinking:
    """Reasoning: an Anthropic thinking block, a Responses reasoning item (its summary)."""

    text: str
    signature: str = "c2lnbmF0dXJl"


@dataclass(frozen=True)
class ToolCall:
    """A tool call. ``input`` is a dict (JSON arguments) or, for a custom/freeform tool
    (Codex's ``apply_patch``), a string: rendered as a Responses ``custom_tool_call``."""

    name: str
    input: dict[str, Any] | str
    id: str = field(default_factory=lambda: f"toolu_{uuid.uuid4().hex[:24]}")


Block = Text | Thinking | ToolCall


@dataclass(frozen=True)
class Usage:
    """Token counts the reply reports (cumulative totals, as the vendors send them)."""

    input_tokens: int = 25
    output_tokens: int = 12
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Reply:
    """One model answer.

    ``cut_after``: close the connection after that many stream events (no terminal event),
    as a network cut would. ``delay``: seconds to wait before each stream event (and before a
    non-streamed body). ``id``: the message/response id (random when not given).
    """

    blocks: tuple[Block, ...]
    usage: Usage = Usage()
    id: str | None = None
    stop_reason: str | None = None
    cut_after: int | None = None
    delay: float = 0.0

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(b for b in self.blocks if isinstance(b, ToolCall))


@dataclass(frozen=True)
class Failure:
    """An error in the vendor's format. ``status`` is the HTTP status of a plain error
    response. With ``mid_stream`` (streamed requests only) the response starts as 200 and the
    error arrives as an event after the first few events."""

    status: int = 500
    type: str | None = None
    message: str = "Internal server error"
    mid_stream: bool = False
    code: str | None = None


Item = Reply | Failure


def text(answer: str, **kwargs: Any) -> Reply:
    """A reply with one text block."""
    return Reply(blocks=(Text(answer),), **kwargs)


def thinking(thought: str, answer: str, **kwargs: Any) -> Reply:
    """A reply that reasons first, then answers."""
    return Reply(blocks=(Thinking(thought), Text(answer)), **kwargs)


def tool_call(name: str, input: dict[str, Any] | str, *, say: str = "", **kwargs: Any) -> Reply:
    """A reply that calls one tool (after saying ``say``, when given)."""
    call = ToolCall(name, input)
    blocks: tuple[Block, ...] = (Text(say), call) if say else (call,)
    return Reply(blocks=blocks, **kwargs)


def error(status: int, message: str, *, type: str | None = None, **kwargs: Any) -> Failure:
    """A vendor error response (``type`` defaults to the vendor's name for ``status``)."""
    return Failure(status=status, type=type, message=message, **kwargs)


def chunks(value: str, size: int) -> list[str]:
    """``value`` split into pieces of ``size`` characters (at least one piece)."""
    return [value[i : i + size] for i in range(0, len(value), size)] or [""]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"
