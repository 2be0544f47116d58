"""OpenAI Chat Completions: the ``chat.completion.chunk`` stream and the JSON body.

Stream: ``data: {chunk}`` events whose ``choices[].delta`` carry ``content``, reasoning
(``reasoning_content`` or ``reasoning``, as OpenAI-compatible servers send it) and
``tool_calls`` (by ``index``: the first delta has id and name, every delta a piece of
``arguments``); with ``stream_options.include_usage`` (the client's choice: the gateway never
adds it) a last chunk with empty ``choices`` and the ``usage``; then ``data: [DONE]``.
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

DONE = "[DONE]"
REASONING_KEYS = ("reasoning_content", "reasoning")


@dataclass
class _Call:
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class Choice:
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)


class Stream(EventStream):
    def __init__(self) -> None:
        super().__init__()
        self._choices: dict[int, Choice] = {}

    def reply(self) -> Reply:
        self._flush()
        reply = self._reply
        reply.parts, reply.quoted, reply.tool_calls = [], [], []
        for index in sorted(self._choices):
            choice = self._choices[index]
            reply.add_text("".join(choice.reasoning))
            reply.add_text("".join(choice.content))
            for call in choice.calls.values():
                reply.add_tool(call.name, "".join(call.arguments) or "{}")
        return reply

    def _event(self, name: str, data: str) -> bool:
        if data.strip() == DONE:
            self._reply.complete = True
            return True
        chunk = loads(data)
        if not isinstance(chunk, dict):
            self._reply.malformed += 1
            return False
        self._reply.message_id = self._reply.message_id or chunk.get("id")
        self._reply.model = self._reply.model or chunk.get("model")
        if chunk.get("usage"):
            set_usage(self._reply.tokens, chunk["usage"])
        for choice in as_list(chunk.get("choices")):
            self._delta(as_dict(choice))
        return False

    def _delta(self, choice: dict[str, Any]) -> None:
        state = self._choices.setdefault(as_int(choice.get("index")) or 0, Choice())
        delta = as_dict(choice.get("delta"))
        if isinstance(delta.get("content"), str):
            state.content.append(delta["content"])
        for key in REASONING_KEYS:
            if isinstance(delta.get(key), str):
                state.reasoning.append(delta[key])
        for call in as_list(delta.get("tool_calls")):
            call = as_dict(call)
            target = state.calls.setdefault(as_int(call.get("index")) or 0, _Call())
            function = as_dict(call.get("function"))
            if isinstance(function.get("name"), str):
                target.name += function["name"]
            if isinstance(function.get("arguments"), str):
                target.arguments.append(function["arguments"])


def from_body(reply: Reply, body: dict[str, Any]) -> None:
    """A non-streamed ``chat.completion``."""
    reply.message_id = body.get("id")
    reply.model = body.get("model")
    for choice in as_list(body.get("choices")):
        message = as_dict(as_dict(choice).get("message"))
        for key in REASONING_KEYS:
            reply.add_text(message.get(key))
        reply.add_text(message.get("content"))
        for call in as_list(message.get("tool_calls")):
            function = as_dict(as_dict(call).get("function"))
            reply.add_tool(function.get("name"), function.get("arguments") or "{}")
    set_usage(reply.tokens, body.get("usage"))


def set_usage(tokens: Usage, usage: Any) -> None:
    """Chat usage: ``prompt_tokens`` include the cached ones, which are priced apart."""
    usage = as_dict(usage)
    prompt = as_int(usage.get("prompt_tokens"))
    cached = as_int(as_dict(usage.get("prompt_tokens_details")).get("cached_tokens")) or 0
    if prompt is not None:
        tokens.input, tokens.cache_read = max(prompt - cached, 0), cached
    tokens.output = as_int(usage.get("completion_tokens"))
    details = as_dict(usage.get("completion_tokens_details"))
    tokens.reasoning = as_int(details.get("reasoning_tokens"))


def request_text(body: dict[str, Any]) -> list[str]:
    """The user and tool messages after the last assistant message; no system prompt."""
    messages = [as_dict(m) for m in as_list(body.get("messages"))]
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    texts: list[str] = []
    for message in messages[last + 1 :]:
        if message.get("role") in ("user", "tool", "function"):
            texts.extend(_content_text(message.get("content")))
    return texts


def _content_text(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    parts = (as_dict(part) for part in as_list(content))
    return [p["text"] for p in parts if isinstance(p.get("text"), str)]
