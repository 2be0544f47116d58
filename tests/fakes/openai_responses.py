"""The OpenAI Responses API wire format.

A stream is named events, each with a ``sequence_number``: ``response.created``,
``response.in_progress``, per output item ``response.output_item.added`` / its deltas /
``response.output_item.done``, and ``response.completed`` with the whole response and usage.
Items: ``reasoning`` (summary deltas), ``message`` (``response.content_part.added``,
``response.output_text.delta``/``done``), ``function_call`` (``response.function_call_arguments
.delta``/``done``) and ``custom_tool_call`` (``response.custom_tool_call_input.delta``/``done``,
how Codex's freeform ``apply_patch`` arrives).
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes.openai_common import error_body, headers
from tests.fakes.script import Block, Failure, Reply, Text, Thinking, ToolCall, chunks, new_id
from tests.fakes.wire import Rendered, json_response, sse, sse_response

CHUNK = 7
Event = dict[str, Any]


def usage(reply: Reply) -> dict[str, Any]:
    u = reply.usage
    prompt = u.input_tokens + u.cache_read_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": prompt + u.output_tokens,
    }


def _call_id(call: ToolCall) -> str:
    return call.id if call.id.startswith("call_") else "call_" + call.id.split("_", 1)[-1]


def item(block: Block, item_id: str) -> dict[str, Any]:
    """The finished output item for ``block``."""
    if isinstance(block, Text):
        part = {"type": "output_text", "text": block.text, "annotations": [], "logprobs": []}
        return {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }
    if isinstance(block, Thinking):
        summary = [{"type": "summary_text", "text": block.text}]
        return {"id": item_id, "type": "reasoning", "summary": summary}
    done = {"id": item_id, "status": "completed", "call_id": _call_id(block), "name": block.name}
    if isinstance(block.input, str):
        return {**done, "type": "custom_tool_call", "input": block.input}
    return {**done, "type": "function_call", "arguments": json.dumps(block.input)}


def _item_ids(reply: Reply) -> list[str]:
    prefixes = {Text: "msg", Thinking: "rs"}
    out = []
    for block in reply.blocks:
        prefix = prefixes.get(type(block))
        if isinstance(block, ToolCall):
            prefix = "ctc" if isinstance(block.input, str) else "fc"
        out.append(new_id(prefix or "item"))
    return out


def response(reply: Reply, model: str, request: dict[str, Any], status: str) -> dict[str, Any]:
    """The response object; ``status`` ``in_progress`` has no output and no usage yet."""
    done = status == "completed"
    ids = _item_ids(reply)
    return {
        "id": reply.id or "",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": [item(b, i) for b, i in zip(reply.blocks, ids, strict=True)] if done else [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": request.get("store", True),
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools", []),
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage(reply) if done else None,
        "user": None,
        "metadata": {},
    }


def body(reply: Reply, model: str, request: dict[str, Any]) -> Rendered:
    """The non-streamed answer."""
    reply = _with_id(reply)
    return json_response(200, response(reply, model, request, "completed"), headers(), reply.delay)


def _with_id(reply: Reply) -> Reply:
    if reply.id:
        return reply
    return Reply(
        blocks=reply.blocks,
        usage=reply.usage,
        id=new_id("resp"),
        stop_reason=reply.stop_reason,
        cut_after=reply.cut_after,
        delay=reply.delay,
    )


def _item_events(block: Block, item_id: str, index: int) -> list[Event]:
    final = item(block, item_id)
    where = {"item_id": item_id, "output_index": index}
    if isinstance(block, Text):
        return _message_events(block, final, where)
    if isinstance(block, Thinking):
        return _reasoning_events(block, final, where)
    if isinstance(block.input, str):
        added = {**final, "status": "in_progress", "input": ""}
        deltas = [
            {"type": "response.custom_tool_call_input.delta", **where, "delta": c}
            for c in chunks(block.input, 11)
        ]
        finished = {"type": "response.custom_tool_call_input.done", **where, "input": block.input}
    else:
        added = {**final, "status": "in_progress", "arguments": ""}
        deltas = [
            {"type": "response.function_call_arguments.delta", **where, "delta": c}
            for c in chunks(final["arguments"], 9)
        ]
        finished = {
            "type": "response.function_call_arguments.done",
            **where,
            "name": block.name,
            "arguments": final["arguments"],
        }
    return [_added(added, index), *deltas, finished, _done(final, index)]


def _added(value: dict[str, Any], index: int) -> Event:
    return {"type": "response.output_item.added", "output_index": index, "item": value}


def _done(value: dict[str, Any], index: int) -> Event:
    return {"type": "response.output_item.done", "output_index": index, "item": value}


def _message_events(block: Text, final: dict[str, Any], where: dict[str, Any]) -> list[Event]:
    at = {**where, "content_index": 0}
    empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    added = {**final, "status": "in_progress", "content": []}
    return [
        _added(added, where["output_index"]),
        {"type": "response.content_part.added", **at, "part": empty},
        *(
            {"type": "response.output_text.delta", **at, "delta": c, "logprobs": []}
            for c in chunks(block.text, CHUNK)
        ),
        {"type": "response.output_text.done", **at, "text": block.text, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": final["content"][0]},
        _done(final, where["output_index"]),
    ]


def _reasoning_events(block: Thinking, final: dict[str, Any], where: dict[str, Any]) -> list[Event]:
    at = {**where, "summary_index": 0}
    return [
        _added({**final, "summary": []}, where["output_index"]),
        {
            "type": "response.reasoning_summary_part.added",
            **at,
            "part": {"type": "summary_text", "text": ""},
        },
        *(
            {"type": "response.reasoning_summary_text.delta", **at, "delta": c}
            for c in chunks(block.text, CHUNK)
        ),
        {"type": "response.reasoning_summary_text.done", **at, "text": block.text},
        {"type": "response.reasoning_summary_part.done", **at, "part": final["summary"][0]},
        _done(final, where["output_index"]),
    ]


def _numbered(events: list[Event]) -> list[bytes]:
    return [sse({**e, "sequence_number": n}, e["type"]) for n, e in enumerate(events)]


def events(reply: Reply, model: str, request: dict[str, Any]) -> list[bytes]:
    reply = _with_id(reply)
    completed = response(reply, model, request, "completed")
    started = response(reply, model, request, "in_progress")
    out: list[Event] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
    ]
    for index, (block, final) in enumerate(zip(reply.blocks, completed["output"], strict=True)):
        out.extend(_item_events(block, final["id"], index))
    out.append({"type": "response.completed", "response": completed})
    return _numbered(out)


def stream(reply: Reply, model: str, request: dict[str, Any]) -> Rendered:
    return sse_response(
        events(reply, model, request),
        headers(),
        delay=reply.delay,
        cut_after=reply.cut_after,
    )


def error(failure: Failure, streamed: bool, model: str, request: dict[str, Any]) -> Rendered:
    """A plain error response, or (``mid_stream``) a stream that ends in ``response.failed``."""
    if not (streamed and failure.mid_stream):
        return json_response(failure.status, error_body(failure), headers())
    reply = _with_id(Reply(blocks=(Text("Partial answer that never finishes"),)))
    started = response(reply, model, request, "in_progress")
    detail = error_body(failure)["error"]
    failed = {
        **started,
        "status": "failed",
        "error": {"code": detail["code"] or detail["type"], "message": failure.message},
    }
    listing: list[Event] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        {"type": "response.failed", "response": failed},
    ]
    return sse_response(_numbered(listing), headers())
