"""The Google Gemini API wire format (https://ai.google.dev/api/generate-content).

``POST /{v1beta|v1}/models/{model}:generateContent`` answers one ``GenerateContentResponse``;
``:streamGenerateContent?alt=sse`` answers several as ``data: {...}`` events separated by
``\\r\\n\\r\\n`` (no terminal event), and without ``alt=sse`` as the elements of one JSON array
(``application/json``), pretty-printed and sent piece by piece: ``[{...}``, ``\\n,\\r\\n{...}``,
..., ``\\n]``. Each streamed response carries ``candidates[0].content.parts`` (text deltas;
``thought: true`` on thought summaries; a ``functionCall`` whole in one response), the
``usageMetadata`` so far (the prompt count in every response; the candidate and thought counts
in the last, with ``finishReason``), ``modelVersion`` and ``responseId`` (the same in every
response of one answer). Errors: ``{"error": {"code", "message", "status"}}``; mid-stream, an
SSE event with that body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.script import Block, Failure, Reply, Text, Thinking, ToolCall, chunks, new_id
from tests.fakes.wire import Rendered, dumps, json_response, sse_response

CHUNK = 9  # characters per text delta: every text arrives in several responses
MODELS = ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-pro-preview")
CALL = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^/:]+):(?P<method>generateContent|"
                  r"streamGenerateContent)$")  # fmt: skip
COUNT = re.compile(r"^/v1(?:beta)?/models/[^/:]+:countTokens$")
LIST = re.compile(r"^/v1(?:beta)?/models$")
ONE = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^/:]+)$")
STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def is_call(path: str) -> bool:
    """Whether ``path`` is a model call (``generateContent`` or ``streamGenerateContent``)."""
    return CALL.match(path) is not None


def is_gemini(path: str) -> bool:
    return path.startswith(("/v1beta/", "/v1/models"))


def headers() -> tuple[tuple[str, str], ...]:
    return (("vary", "Origin, X-Origin, Referer"), ("server", "scaffolding on HTTPServer2"),
            ("x-gemini-service-tier", "standard"))  # fmt: skip


def _part(block: Block, text: str | None = None) -> dict[str, Any]:
    if isinstance(block, ToolCall):
        args = block.input if isinstance(block.input, dict) else {"input": block.input}
        return {"functionCall": {"name": block.name, "args": args},
                "thoughtSignature": "c2lnbmF0dXJl"}  # fmt: skip
    part: dict[str, Any] = {"text": block.text if text is None else text}
    if isinstance(block, Thinking):
        part["thought"] = True
    return part


def usage(reply: Reply, final: bool = True) -> dict[str, Any]:
    """``usageMetadata``: the prompt includes the cached tokens; the candidates leave out the
    thoughts (the fake's ``output_tokens`` count both, as the other vendors' do)."""
    u = reply.usage
    prompt = u.input_tokens + u.cache_read_tokens
    out: dict[str, Any] = {"promptTokenCount": prompt, "totalTokenCount": prompt}
    if u.cache_read_tokens:
        out["cachedContentTokenCount"] = u.cache_read_tokens
    if final:
        out["candidatesTokenCount"] = u.output_tokens - u.reasoning_tokens
        if u.reasoning_tokens:
            out["thoughtsTokenCount"] = u.reasoning_tokens
        out["totalTokenCount"] = prompt + u.output_tokens
    out["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    return out


def _finish(reply: Reply) -> str:
    return reply.stop_reason or "STOP"


def _response(
    reply: Reply, model: str, answer_id: str, parts: list[dict[str, Any]], final: bool
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if final:
        candidate["finishReason"] = _finish(reply)
    candidate["index"] = 0
    return {"candidates": [candidate], "usageMetadata": usage(reply, final),
            "modelVersion": model, "responseId": answer_id}  # fmt: skip


def body(reply: Reply, model: str) -> Rendered:
    """The ``generateContent`` answer."""
    answer_id = reply.id or new_id("resp")
    parts = [_part(b) for b in reply.blocks]
    response = _response(reply, model, answer_id, parts, final=True)
    return json_response(200, response, headers(), reply.delay)


def responses(reply: Reply, model: str) -> list[dict[str, Any]]:
    """The streamed answer's response objects, in order (the last one finishes it)."""
    answer_id = reply.id or new_id("resp")
    pieces: list[dict[str, Any]] = []
    for block in reply.blocks:
        if isinstance(block, ToolCall):
            pieces.append(_part(block))
        else:
            pieces.extend(_part(block, piece) for piece in chunks(block.text, CHUNK))
    out = [_response(reply, model, answer_id, [piece], final=False) for piece in pieces]
    if out:
        out[-1] = _response(reply, model, answer_id, [pieces[-1]], final=True)
    else:
        out = [_response(reply, model, answer_id, [{"text": ""}], final=True)]
    return out


def _sse(value: Any) -> bytes:
    return f"data: {dumps(value)}\r\n\r\n".encode()


def sse(reply: Reply, model: str) -> Rendered:
    events = [_sse(r) for r in responses(reply, model)]
    return sse_response(events, headers(), delay=reply.delay, cut_after=reply.cut_after)


def array(reply: Reply, model: str) -> Rendered:
    """The JSON-array stream: the elements pretty-printed, as Google sends them."""
    texts = [json.dumps(r, indent=2, ensure_ascii=False) for r in responses(reply, model)]
    pieces = ["[" + texts[0], *("\n,\r\n" + text for text in texts[1:]), "\n]"]
    return Rendered(
        status=200,
        headers=(("content-type", "application/json; charset=UTF-8"), *headers()),
        events=tuple(piece.encode() for piece in pieces),
        stream=True,
        delay=reply.delay,
        cut_after=reply.cut_after,
    )


def error_body(failure: Failure) -> dict[str, Any]:
    status = failure.type or STATUS.get(failure.status, "INTERNAL")
    return {"error": {"code": failure.status, "message": failure.message, "status": status}}


def error(failure: Failure, streamed: bool, model: str) -> Rendered:
    """A plain error, or (``mid_stream``, SSE) a stream that breaks off with an error event."""
    if not (streamed and failure.mid_stream):
        return json_response(failure.status, error_body(failure), headers())
    partial = responses(Reply(blocks=(Text("Partial answer that never finishes"),)), model)[:2]
    events = [_sse(r) for r in partial] + [_sse(error_body(failure))]
    return sse_response(events, headers())


def render(item: Reply | Failure, path: str, query: str, request: Any) -> Rendered:
    """``item`` as the answer to the model call at ``path``."""
    found = CALL.match(path)
    assert found is not None
    model = found["model"]
    streamed = found["method"] == "streamGenerateContent"
    alt_sse = "alt=sse" in query.split("&")
    if isinstance(item, Failure):
        return error(item, streamed and alt_sse, model)
    if not streamed:
        return body(item, model)
    return sse(item, model) if alt_sse else array(item, model)


def count_tokens(raw: bytes) -> Rendered:
    total = max(1, len(raw) // 4)
    details = [{"modality": "TEXT", "tokenCount": total}]
    return json_response(200, {"totalTokens": total, "promptTokensDetails": details}, headers())


def _model(name: str) -> dict[str, Any]:
    return {"name": f"models/{name}", "version": "001", "displayName": name,
            "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "countTokens"]}  # fmt: skip


def models() -> Rendered:
    return json_response(200, {"models": [_model(m) for m in MODELS]}, headers())


def metadata(method: str, path: str, raw: bytes) -> Rendered | None:
    """``countTokens``, the model list and one model; None for any other path."""
    if method == "POST" and COUNT.match(path):
        return count_tokens(raw)
    if method == "GET" and LIST.match(path):
        return models()
    found = ONE.match(path) if method == "GET" else None
    return None if found is None else json_response(200, _model(found["model"]), headers())


def not_found(method: str, path: str) -> Rendered:
    failure = Failure(status=404, message=f"Method not found: {method} {path}")
    return json_response(404, error_body(failure), headers())
