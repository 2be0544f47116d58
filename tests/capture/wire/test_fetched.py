"""Legacy completions, batch results and raw answers against hand-written wire transcripts,
and which endpoint is recorded, fetched, metadata or refused (issue 12, "Fail closed")."""

from __future__ import annotations

import json

import pytest

from distillguard.capture.gateway import routes
from distillguard.capture.wire import Parser, Reply, batch, openai_completions, raw
from distillguard.capture.wire.api import api_of
from tests.capture.gateway.wire import sse

COMPLETION = {
    "id": "cmpl-7QmVI15qgYVllxK0FtxVGG6ywfzaq", "object": "text_completion",
    "created": 1686617332, "model": "gpt-3.5-turbo-instruct",
    "choices": [{"text": "\n\ndef add(a, b):\n    return a + b", "index": 0, "logprobs": None,
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 12, "total_tokens": 17},
}  # fmt: skip


def _chunk(text: str, finish: str | None = None, index: int = 0) -> dict[str, object]:
    return {"id": "cmpl-8a", "object": "text_completion", "created": 1, "model": "davinci-002",
            "choices": [{"text": text, "index": index, "logprobs": None,
                         "finish_reason": finish}]}  # fmt: skip


COMPLETION_STREAM = sse(
    [("", _chunk("def ")), ("", _chunk("add(a, b):")), ("", _chunk("x", index=1)),
     ("", _chunk("", "stop")),
     ("", {"id": "cmpl-8a", "object": "text_completion", "created": 1, "model": "davinci-002",
           "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4,
                                    "total_tokens": 7}}),
     ("", "[DONE]")]
)  # fmt: skip


def _run(parser: Parser, data: bytes, size: int) -> Reply:
    for start in range(0, len(data), size):
        parser.feed(data[start : start + size])
    return parser.reply()


def test_legacy_completion_body_and_request() -> None:
    parser = api_of("openai").parser("/v1/completions", "application/json")
    assert parser is not None
    reply = _run(parser, json.dumps(COMPLETION).encode(), 1 << 20)
    assert reply.parts == ["\n\ndef add(a, b):\n    return a + b"]
    assert reply.message_id == COMPLETION["id"] and reply.model == "gpt-3.5-turbo-instruct"
    assert (reply.tokens.input, reply.tokens.output) == (5, 12)
    body = {"model": "m", "prompt": ["one", [1, 2]], "suffix": "end"}
    assert api_of("openai").request_text("/v1/completions", body) == ["one", "end"]
    assert openai_completions.request_text({"prompt": "p"}) == ["p"]


@pytest.mark.parametrize("size", [1, 9, 1 << 20])
def test_legacy_completion_stream(size: int) -> None:
    parser = api_of("openai").parser("/v1/completions", "text/event-stream")
    assert isinstance(parser, openai_completions.Stream)
    reply = _run(parser, COMPLETION_STREAM, size)
    assert reply.complete and reply.parts == ["def add(a, b):", "x"]
    assert (reply.tokens.input, reply.tokens.output) == (3, 4)


ANTHROPIC_RESULTS = [
    {"custom_id": "a", "result": {"type": "succeeded", "message": {
        "id": "msg_01a", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": "answer a"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 3}}}},
    {"custom_id": "b", "result": {"type": "errored", "error": {
        "type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}}},
    {"custom_id": "c", "result": {"type": "expired"}},
    {"custom_id": "d", "result": {"type": "succeeded", "message": {
        "id": "msg_01d", "model": "claude-sonnet-4-6",
        "content": [{"type": "tool_use", "name": "Write",
                     "input": {"file_path": "x.py", "content": "x = 1\n"}}]}}},
]  # fmt: skip


def _jsonl(lines: list[object], end: bytes = b"\n") -> bytes:
    return b"\n".join(json.dumps(line).encode() for line in lines) + end


@pytest.mark.parametrize(("size", "end"), [(1, b"\n"), (7, b""), (1 << 20, b"\n")])
def test_anthropic_batch_results_one_output_per_succeeded_line(size: int, end: bytes) -> None:
    parser = api_of("anthropic").parser("/v1/messages/batches/msgbatch_1/results", "")
    assert isinstance(parser, batch.Lines)
    data, items = _jsonl(ANTHROPIC_RESULTS, end), []
    for start in range(0, len(data), size):
        parser.feed(data[start : start + size])
        items += parser.take()
    items += parser.take(final=True)
    assert [i.source_id for i in items] == ["batch:msgbatch_1:a", "batch:msgbatch_1:d"]
    assert [i.reply.message_id for i in items] == ["msg_01a", "msg_01d"]
    assert items[0].reply.parts == ["answer a"] and items[1].reply.parts == ["x = 1\n"]
    assert items[0].reply.tokens.input == 10 and not items[0].reply.unparsed


def test_lines_are_given_as_soon_as_they_end() -> None:
    parser = batch.anthropic_results("/v1/messages/batches/b/results")
    data = _jsonl(ANTHROPIC_RESULTS[:1])
    parser.feed(data[:-1])
    assert parser.take() == []
    parser.feed(b"\n")
    assert [i.source_id for i in parser.take()] == ["batch:b:a"]


def test_openai_output_file_lines() -> None:
    chat = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi there"}}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 2}}  # fmt: skip
    response = {
        "id": "resp_1",
        "object": "response",
        "model": "gpt-5",
        "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "from responses"}]}
        ],
    }
    lines = [
        {"id": "batch_req_1", "custom_id": "r1",
         "response": {"status_code": 200, "request_id": "q", "body": chat}, "error": None},
        {"id": "batch_req_2", "custom_id": "r2",
         "response": {"status_code": 200, "request_id": "q", "body": response}, "error": None},
        {"id": "batch_req_3", "custom_id": "r3", "response": {"status_code": 400, "body": {
            "error": {"message": "bad"}}}, "error": None},
        {"id": "batch_req_4", "custom_id": "r4", "response": None,
         "error": {"code": "batch_expired", "message": "expired"}},
        {"id": "batch_req_5", "custom_id": "r5", "response": {"status_code": 200, "body": {
            "object": "list", "data": [{"embedding": [0.1]}]}}},
        {"custom_id": "in1", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "mine"}]}},
    ]  # fmt: skip
    parser = api_of("openai").parser("/v1/files/file-out1/content", "application/octet-stream")
    assert isinstance(parser, batch.Lines)
    parser.feed(_jsonl(lines))
    items = parser.take(final=True)
    assert [(i.source_id, i.reply.text) for i in items] == [
        ("batch:file-out1:r1", "hi there"),
        ("batch:file-out1:r2", "from responses"),
    ]
    assert items[0].reply.message_id == "chatcmpl-1" and items[0].reply.tokens.output == 2


def test_lines_of_no_known_shape_are_recorded_raw() -> None:
    parser = batch.openai_file("/v1/files/file-x/content")
    parser.feed(b'{"custom_id": "r1", "response": {"status_code": 200, "body": {"object": '
                b'"chat.completion", "id": "c1", "choices": [{"message": {"content": "ok"}}]}}}\n'
                b"step,train_loss\n1,0.5\n")  # fmt: skip
    items = parser.take(final=True)
    assert [i.source_id for i in items] == ["batch:file-x:r1", "batch:file-x"]
    assert items[1].reply.unparsed and items[1].reply.text == "step,train_loss\n1,0.5"


def test_raw_answers() -> None:
    reply = _run(raw.Raw(), "plain answer \u00e9".encode() + b"\xff", 3)
    assert reply.unparsed and reply.text == "plain answer \u00e9\ufffd"
    parser = api_of("anthropic").parser("/v1/messages", "application/json")
    assert parser is not None
    wrapped = raw.OrRaw(parser)
    assert _run(wrapped, b"<html>proxy says hi</html>", 5).text == "<html>proxy says hi</html>"
    parser = api_of("anthropic").parser("/v1/messages", "application/json")
    assert parser is not None
    good = {"id": "msg_1", "content": [{"type": "text", "text": "t"}]}
    reply = _run(raw.OrRaw(parser), json.dumps(good).encode(), 5)
    assert reply.text == "t" and not reply.unparsed
    assert api_of("openai").parser("/v1/chat/completions", "text/plain") is None


@pytest.mark.parametrize(
    ("api", "method", "path", "kind"),
    [
        ("anthropic", "POST", "/v1/messages", "recorded"),
        ("anthropic", "GET", "/v1/messages", "refused"),
        ("anthropic", "GET", "/v1/messages/batches/msgbatch_1/results", "fetched"),
        ("anthropic", "GET", "/v1/messages/batches/msgbatch_1/results/x", "refused"),
        ("anthropic", "POST", "/v1/messages/batches", "metadata"),
        ("anthropic", "GET", "/v1/messages/batches", "metadata"),
        ("anthropic", "GET", "/v1/messages/batches/msgbatch_1", "metadata"),
        ("anthropic", "POST", "/v1/messages/batches/msgbatch_1/cancel", "metadata"),
        ("anthropic", "GET", "/v1/files/f/content", "refused"),
        ("openai", "POST", "/v1/completions", "recorded"),
        ("openai", "GET", "/v1/chat/completions", "refused"),
        ("openai", "GET", "/v1/responses/resp_1", "fetched"),
        ("openai", "DELETE", "/v1/responses/resp_1", "refused"),
        ("openai", "GET", "/v1/responses/resp_1/input_items", "refused"),
        ("openai", "GET", "/v1/files/file-1/content", "fetched"),
        ("openai", "POST", "/v1/batches", "metadata"),
        ("openai", "POST", "/v1/batches/b/cancel", "metadata"),
        ("openai", "GET", "/v1/organization/usage/completions", "refused"),
        ("openai", "POST", "/v1/embeddings", "refused"),
    ],
)
def test_route_kinds(api: str, method: str, path: str, kind: str) -> None:
    assert routes.kind(api_of(api), path, method=method) == kind


def test_an_unknown_endpoint_is_refused_with_how_to_allow_it() -> None:
    refusal = routes.refusal(api_of("openai"), "POST", "/v1/embeddings", "openai")
    assert refusal.kind == "not_found" and refusal.status == 404
    assert '[upstreams.openai] pass_through = ["/v1/embeddings"]' in refusal.message
    assert routes.kind(api_of("openai"), "/v1/embeddings", ["/v1/embeddings"], "POST") == "allowed"
