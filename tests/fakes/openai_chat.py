"""The OpenAI Chat Completions wire format.

A stream is ``data: {chat.completion.chunk}`` lines: the role first, content and tool-call
argument deltas (a call's first delta carries its id and name), a last chunk with the
``finish_reason``, with ``stream_options.include_usage`` a chunk with empty ``choices`` and the
usage, then ``data: [DONE]``. Reasoning is not part of this API: thinking blocks are left out.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes.openai_common import error_body, headers
from tests.fakes.script import Failure, Reply, Text, ToolCall, chunks, new_id
from tests.fakes.wire import Rendered, json_response, sse, sse_response

CHUNK = 7


def _arguments(call: ToolCall) -> str:
    value = call.input if isinstance(call.input, dict) else {"input": call.input}
    return json.dumps(value)


def _call_id(call: ToolCall) -> str:
    return call.id if call.id.startswith("call_") else "call_" + call.id.split("_", 1)[-1]


def usage(reply: Reply) -> dict[str, Any]:
    u = reply.usage
    prompt = u.input_tokens + u.cache_read_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": u.output_tokens,
        "total_tokens": prompt + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": u.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _finish(reply: Reply) -> str:
    return reply.stop_reason or ("tool_calls" if reply.tool_calls else "stop")


def _text(reply: Reply) -> str | None:
    parts = [b.text for b in reply.blocks if isinstance(b, Text)]
    return "".join(parts) if parts else None


def completion(reply: Reply, model: str) -> Rendered:
    message: dict[str, Any] = {"role": "assistant", "content": _text(reply), "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(c),
                "type": "function",
                "function": {"name": c.name, "arguments": _arguments(c)},
            }
            for c in reply.tool_calls
        ]
    body = {
        "id": reply.id or new_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(reply)}
        ],
        "usage": usage(reply),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    return json_response(200, body, headers(), reply.delay)


def _deltas(reply: Reply) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "assistant", "content": "", "refusal": None}]
    for block in reply.blocks:
        if isinstance(block, Text):
            out.extend({"content": c} for c in chunks(block.text, CHUNK) if c)
    for index, call in enumerate(reply.tool_calls):
        fn = {"name": call.name, "arguments": ""}
        first = {"index": index, "id": _call_id(call), "type": "function", "function": fn}
        out.append({"tool_calls": [first]})
        for piece in chunks(_arguments(call), 9):
            out.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    return out


def events(reply: Reply, model: str, include_usage: bool) -> list[bytes]:
    base = {
        "id": reply.id or new_id("chatcmpl"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**base, "choices": [choice], **extra})

    out = [chunk(d) for d in _deltas(reply)]
    out.append(chunk({}, _finish(reply)))
    if include_usage:
        out.append(sse({**base, "choices": [], "usage": usage(reply)}))
    out.append(sse("[DONE]"))
    return out


def stream(reply: Reply, model: str, include_usage: bool) -> Rendered:
    return sse_response(
        events(reply, model, include_usage),
        headers(),
        delay=reply.delay,
        cut_after=reply.cut_after,
    )


def error(failure: Failure, streamed: bool, model: str) -> Rendered:
    """A plain error response, or (``mid_stream``) chunks then ``data: {"error": ...}``."""
    if not (streamed and failure.mid_stream):
        return json_response(failure.status, error_body(failure), headers())
    partial = events(Reply(blocks=(Text("Partial answer that never finishes"),)), model, False)
    return sse_response([*partial[:3], sse(error_body(failure))], headers())
