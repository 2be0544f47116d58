"""The Anthropic Messages API wire format (https://docs.anthropic.com/en/api/messages-streaming).

A streamed answer is ``message_start`` (usage with ``output_tokens: 1``), per block
``content_block_start`` / several ``content_block_delta`` / ``content_block_stop`` (a ``ping``
after the first start), ``message_delta`` (stop reason and cumulative usage), ``message_stop``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.script import Block, Failure, Reply, Text, Thinking, ToolCall, chunks, new_id
from tests.fakes.wire import Rendered, json_response, sse, sse_response

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
CHUNK = 7  # characters per delta: every block arrives in several pieces
MODELS = ("claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-4-5")


def headers() -> tuple[tuple[str, str], ...]:
    return (("request-id", new_id("req")), ("anthropic-organization-id", "fake-org"))


def _input(call: ToolCall) -> dict[str, Any]:
    return call.input if isinstance(call.input, dict) else {"input": call.input}


def _block(block: Block) -> dict[str, Any]:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text}
    if isinstance(block, Thinking):
        return {"type": "thinking", "thinking": block.text, "signature": block.signature}
    return {"type": "tool_use", "id": block.id, "name": block.name, "input": _input(block)}


def _usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
    u = reply.usage
    return {
        "input_tokens": u.input_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "output_tokens": output_tokens,
    }


def _stop_reason(reply: Reply) -> str:
    return reply.stop_reason or ("tool_use" if reply.tool_calls else "end_turn")


def _message(
    reply: Reply, model: str, content: list[dict[str, Any]], usage: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": reply.id or new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None if not content else _stop_reason(reply),
        "stop_sequence": None,
        "usage": {**usage, "service_tier": "standard"},
    }


def message(reply: Reply, model: str) -> Rendered:
    """The non-streamed answer."""
    content = [_block(b) for b in reply.blocks]
    body = _message(reply, model, content, _usage(reply, reply.usage.output_tokens))
    return json_response(200, body, headers(), reply.delay)


def _start(index: int, block: Block) -> bytes:
    if isinstance(block, Text):
        start: dict[str, Any] = {"type": "text", "text": ""}
    elif isinstance(block, Thinking):
        start = {"type": "thinking", "thinking": "", "signature": ""}
    else:
        start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
    data = {"type": "content_block_start", "index": index, "content_block": start}
    return sse(data, "content_block_start")


def _deltas(block: Block) -> list[dict[str, Any]]:
    if isinstance(block, Text):
        return [{"type": "text_delta", "text": c} for c in chunks(block.text, CHUNK)]
    if isinstance(block, Thinking):
        pieces = [{"type": "thinking_delta", "thinking": c} for c in chunks(block.text, CHUNK)]
        return [*pieces, {"type": "signature_delta", "signature": block.signature}]
    arguments = json.dumps(_input(block))
    return [{"type": "input_json_delta", "partial_json": c} for c in ["", *chunks(arguments, 9)]]


def events(reply: Reply, model: str) -> list[bytes]:
    """The streamed answer's events, in order."""
    start = _message(reply, model, [], _usage(reply, 1))
    out = [sse({"type": "message_start", "message": start}, "message_start")]
    for index, block in enumerate(reply.blocks):
        out.append(_start(index, block))
        if index == 0:
            out.append(sse({"type": "ping"}, "ping"))
        for delta in _deltas(block):
            data = {"type": "content_block_delta", "index": index, "delta": delta}
            out.append(sse(data, "content_block_delta"))
        out.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    delta = {"stop_reason": _stop_reason(reply), "stop_sequence": None}
    usage = _usage(reply, reply.usage.output_tokens)
    out.append(sse({"type": "message_delta", "delta": delta, "usage": usage}, "message_delta"))
    out.append(sse({"type": "message_stop"}, "message_stop"))
    return out


def stream(reply: Reply, model: str) -> Rendered:
    return sse_response(
        events(reply, model), headers(), delay=reply.delay, cut_after=reply.cut_after
    )


def error_body(failure: Failure) -> dict[str, Any]:
    kind = failure.type or ERROR_TYPES.get(failure.status, "api_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": failure.message},
        "request_id": new_id("req"),
    }


def error(failure: Failure, streamed: bool, model: str) -> Rendered:
    """A plain error response, or (``mid_stream``) a stream that breaks off with ``error``."""
    if not (streamed and failure.mid_stream):
        return json_response(failure.status, error_body(failure), headers())
    partial = events(Reply(blocks=(Text("Partial answer that never finishes"),)), model)[:4]
    body = error_body(failure)
    del body["request_id"]
    return sse_response([*partial, sse(body, "error")], headers())


def count_tokens(body: bytes) -> Rendered:
    return json_response(200, {"input_tokens": max(1, len(body) // 4)}, headers())


def models() -> Rendered:
    data = [
        {"type": "model", "id": m, "display_name": m, "created_at": "2025-09-29T00:00:00Z"}
        for m in MODELS
    ]
    listing = {"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]}
    return json_response(200, listing, headers())
