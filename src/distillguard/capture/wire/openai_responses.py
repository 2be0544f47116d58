"""OpenAI Responses: the typed event stream and the JSON body.

Stream: ``response.created`` (id, model), per output item ``response.output_item.added`` …
deltas (``response.output_text.delta``, ``response.reasoning_summary_text.delta``,
``response.function_call_arguments.delta``, ``response.custom_tool_call_input.delta``) …
``response.output_item.done`` (the whole item), then ``response.completed`` with the whole
response and its ``usage`` (``input_tokens_details.cached_tokens``,
``output_tokens_details.reasoning_tokens``). Items: ``message`` (``output_text``), ``reasoning``
(``summary``), ``function_call`` (``arguments``), ``custom_tool_call`` (``input``: Codex's
``apply_patch``), ``local_shell_call``.
"""

from __future__ import annotations

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

FINAL = {"response.completed": True, "response.incomplete": True, "response.failed": False}
DELTAS = (
    "response.output_text.delta", "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta", "response.function_call_arguments.delta",
    "response.custom_tool_call_input.delta",
)  # fmt: skip
ASSISTANT_ITEMS = ("function_call", "custom_tool_call", "reasoning", "local_shell_call")


class Stream(EventStream):
    def __init__(self) -> None:
        super().__init__()
        self._items: dict[int, dict[str, Any]] = {}
        self._deltas: dict[int, list[str]] = {}
        self._final: list[Any] = []

    def reply(self) -> Reply:
        self._flush()
        reply = self._reply
        reply.parts, reply.quoted, reply.tool_calls = [], [], []
        if self._final:
            add_items(reply, self._final)
            return reply
        for index in sorted(self._items.keys() | self._deltas.keys()):
            item = self._items.get(index)
            if item is not None:
                add_items(reply, [item])
            else:  # cut off before the item was done: what its deltas said
                reply.add_text("".join(self._deltas[index]))
        return reply

    def _event(self, name: str, data: str) -> bool:
        event = loads(data)
        if not isinstance(event, dict):
            self._reply.malformed += 1
            return False
        kind = event.get("type")
        index = as_int(event.get("output_index")) or 0
        if kind in DELTAS and isinstance(event.get("delta"), str):
            self._deltas.setdefault(index, []).append(event["delta"])
        elif kind == "response.output_item.done":
            self._items[index] = as_dict(event.get("item"))
        elif kind == "response.created":
            self._response(as_dict(event.get("response")))
        elif kind in FINAL:
            response = as_dict(event.get("response"))
            self._response(response)
            self._final = as_list(response.get("output"))
            set_usage(self._reply.tokens, response.get("usage"))
            self._reply.complete = FINAL[kind]
            return True
        return False

    def _response(self, response: dict[str, Any]) -> None:
        self._reply.message_id = response.get("id") or self._reply.message_id
        self._reply.model = response.get("model") or self._reply.model


def from_body(reply: Reply, body: dict[str, Any]) -> None:
    """A non-streamed ``response`` object."""
    reply.message_id = body.get("id")
    reply.model = body.get("model")
    add_items(reply, as_list(body.get("output")))
    set_usage(reply.tokens, body.get("usage"))


def add_items(reply: Reply, items: list[Any]) -> None:
    for item in items:
        item = as_dict(item)
        kind = item.get("type")
        if kind == "message":
            for part in as_list(item.get("content")):
                part = as_dict(part)
                reply.add_text(part.get("text") if "text" in part else part.get("refusal"))
        elif kind == "reasoning":
            for part in as_list(item.get("summary")) + as_list(item.get("content")):
                reply.add_text(as_dict(part).get("text"))
        elif kind == "function_call":
            reply.add_tool(item.get("name"), item.get("arguments") or "{}")
        elif kind == "custom_tool_call":
            reply.add_tool(item.get("name"), item.get("input") or "")
        elif kind == "local_shell_call":
            reply.add_tool("local_shell", as_dict(item.get("action")))


def set_usage(tokens: Usage, usage: Any) -> None:
    """Responses usage: ``input_tokens`` include the cached ones, which are priced apart."""
    usage = as_dict(usage)
    total = as_int(usage.get("input_tokens"))
    cached = as_int(as_dict(usage.get("input_tokens_details")).get("cached_tokens")) or 0
    if total is not None:
        tokens.input, tokens.cache_read = max(total - cached, 0), cached
    tokens.output = as_int(usage.get("output_tokens"))
    details = as_dict(usage.get("output_tokens_details"))
    tokens.reasoning = as_int(details.get("reasoning_tokens"))


def request_text(body: dict[str, Any]) -> list[str]:
    """The input after the last item the model produced (all of it on a first turn): user
    messages and tool outputs; never ``instructions`` or developer/system messages."""
    raw = body.get("input")
    if isinstance(raw, str):
        return [raw]
    items = [as_dict(item) for item in as_list(raw)]
    last = max((i for i, item in enumerate(items) if _from_model(item)), default=-1)
    texts: list[str] = []
    for item in items[last + 1 :]:
        if item.get("role") == "user":
            texts.extend(_content_text(item.get("content")))
        elif item.get("type") in ("function_call_output", "custom_tool_call_output"):
            texts.extend(_content_text(item.get("output")))
    return texts


def _from_model(item: dict[str, Any]) -> bool:
    return item.get("role") == "assistant" or item.get("type") in ASSISTANT_ITEMS


def _content_text(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    parts = (as_dict(part) for part in as_list(content))
    return [p["text"] for p in parts if isinstance(p.get("text"), str)]
