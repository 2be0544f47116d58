"""The OpenAI legacy Completions wire format (``POST /v1/completions``).

The body is a ``text_completion`` whose ``choices[].text`` is the answer; a stream is ``data:
{text_completion}`` events each carrying the next piece of ``text`` (the last with the
``finish_reason``), with ``stream_options.include_usage`` a last event with empty ``choices`` and
the usage, then ``data: [DONE]``. Only text blocks are part of this API.
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.openai_common import error_body, headers
from tests.fakes.script import Failure, Reply, Text, chunks, new_id
from tests.fakes.wire import Rendered, json_response, sse, sse_response

CHUNK = 7


def _usage(reply: Reply) -> dict[str, int]:
    u = reply.usage
    return {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens}  # fmt: skip


def _text(reply: Reply) -> str:
    return "".join(b.text for b in reply.blocks if isinstance(b, Text))


def _base(reply: Reply, model: str) -> dict[str, Any]:
    return {"id": reply.id or new_id("cmpl"), "object": "text_completion", "model": model,
            "created": int(time.time()), "system_fingerprint": "fp_fake"}  # fmt: skip


def _choice(text: str, finish: str | None) -> dict[str, Any]:
    return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}


def completion(reply: Reply, model: str) -> Rendered:
    """The non-streamed answer."""
    body = {**_base(reply, model), "choices": [_choice(_text(reply), "stop")],
            "usage": _usage(reply)}  # fmt: skip
    return json_response(200, body, headers(), reply.delay)


def stream(reply: Reply, model: str, include_usage: bool) -> Rendered:
    base = _base(reply, model)
    pieces = chunks(_text(reply), CHUNK)
    out = [sse({**base, "choices": [_choice(piece, None)]}) for piece in pieces]
    out.append(sse({**base, "choices": [_choice("", "stop")]}))
    if include_usage:
        out.append(sse({**base, "choices": [], "usage": _usage(reply)}))
    out.append(sse("[DONE]"))
    return sse_response(out, headers(), delay=reply.delay, cut_after=reply.cut_after)


def render(item: Reply | Failure, model: str, body: dict[str, Any]) -> Rendered:
    if isinstance(item, Failure):
        return json_response(item.status, error_body(item), headers())
    if not body.get("stream"):
        return completion(item, model)
    return stream(item, model, bool((body.get("stream_options") or {}).get("include_usage")))
