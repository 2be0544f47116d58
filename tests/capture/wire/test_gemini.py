"""The Gemini wire format: SSE and JSON-array streams, JSON bodies, usage, what a request quotes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from distillguard.capture.wire import gemini
from distillguard.capture.wire.api import APIS, GEMINI
from distillguard.capture.wire.base import JsonBody, Reply
from tests.fakes import gemini_api
from tests.fakes.script import Failure, Text, Thinking, ToolCall, Usage
from tests.fakes.script import Reply as Scripted

MODEL = "gemini-2.5-pro"
SCRIPTED = Scripted(
    blocks=(
        Thinking("I should write the module first, then explain it."),
        Text("Here is the module."),
        ToolCall(
            "write_file", {"file_path": "m.py", "content": "def area(r):\n    return r * r\n"}
        ),
    ),
    usage=Usage(input_tokens=100, output_tokens=40, cache_read_tokens=30, reasoning_tokens=15),
    id="resp-abc",
)


def _sse_bytes(reply: Scripted) -> list[bytes]:
    return list(gemini_api.sse(reply, MODEL).events)


def _array_bytes(reply: Scripted) -> list[bytes]:
    return list(gemini_api.array(reply, MODEL).events)


def _feed(parser: Any, chunks: list[bytes]) -> tuple[Reply, list[bool]]:
    finals = [parser.feed(chunk) for chunk in chunks]
    return parser.reply(), finals


def _expect_scripted(reply: Reply) -> None:
    assert reply.message_id == "resp-abc"
    assert reply.model == MODEL
    assert reply.parts == [
        "I should write the module first, then explain it.",
        "Here is the module.",
        "def area(r):\n    return r * r\n",
    ]
    assert reply.tool_calls == ["write_file"]
    tokens = reply.tokens
    assert (tokens.input, tokens.cache_read, tokens.output, tokens.reasoning) == (100, 30, 40, 15)
    assert reply.complete and reply.malformed == 0


def test_sse_stream_joins_deltas_and_reads_thoughts_calls_usage() -> None:
    reply, finals = _feed(gemini.Stream(), _sse_bytes(SCRIPTED))
    _expect_scripted(reply)
    assert finals[-1] and not any(finals[:-1]), "only the response with finishReason is final"


def test_sse_stream_split_at_every_byte() -> None:
    data = b"".join(_sse_bytes(SCRIPTED))
    reply, finals = _feed(gemini.Stream(), [data[i : i + 1] for i in range(len(data))])
    _expect_scripted(reply)
    assert sum(finals) == 1


def test_json_array_stream_split_anywhere() -> None:
    data = b"".join(_array_bytes(SCRIPTED))
    assert data.startswith(b"[{") and b"\n,\r\n{" in data and data.endswith(b"\n]")
    for size in (1, 2, 7, 64, len(data)):
        pieces = [data[i : i + size] for i in range(0, len(data), size)]
        reply, finals = _feed(gemini.ArrayStream(), pieces)
        _expect_scripted(reply)
        assert sum(finals) == 1


def test_json_array_strings_with_brackets_quotes_and_escapes() -> None:
    tricky = 'a "quoted" {brace} [bracket] back\\slash \\" end }]'
    first = {"candidates": [{"content": {"parts": [{"text": tricky}], "role": "model"}}]}
    last = {"candidates": [{"content": {"parts": [{"text": "!"}]}, "finishReason": "STOP"}]}
    data = ("[" + json.dumps(first) + ",\r\n" + json.dumps(last) + "]").encode()
    for size in (1, 3, len(data)):
        parser = gemini.ArrayStream()
        reply, _ = _feed(parser, [data[i : i + size] for i in range(0, len(data), size)])
        assert reply.parts == [tricky + "!"]
        assert reply.complete


def test_json_body_of_generate_content() -> None:
    rendered = gemini_api.body(SCRIPTED, MODEL)
    parser = JsonBody(gemini.from_body)
    reply, _ = _feed(parser, [rendered.body[:10], rendered.body[10:]])
    _expect_scripted(reply)


def test_write_file_records_content_and_replace_quotes_old_string() -> None:
    body = {
        "candidates": [{"content": {"parts": [
            {"functionCall": {"name": "replace", "args": {
                "file_path": "a.py", "instruction": "rename", "old_string": "x = 1\n",
                "new_string": "count = 1\n"}}},
            {"functionCall": {"name": "write_file", "args": {"file_path": "b.py",
                                                             "content": "y = 2\n"}}},
        ]}, "finishReason": "STOP"}],
    }  # fmt: skip
    reply = Reply()
    gemini.from_body(reply, body)
    assert reply.parts == ["count = 1\n", "y = 2\n"]
    assert reply.quoted == ["x = 1\n"]
    assert reply.tool_calls == ["replace", "write_file"]
    other = Reply()  # another agent's write_file, with other argument names: all its strings
    other.add_tool("write_file", {"path": "c.py", "text": "z = 3\n"})
    assert other.parts == ["c.py", "z = 3\n"] and other.quoted == []


def test_executable_code_is_model_text_and_thought_parts_stay_apart() -> None:
    body = {"candidates": [{"content": {"parts": [
        {"text": "think ", "thought": True}, {"text": "more", "thought": True},
        {"executableCode": {"language": "PYTHON", "code": "print(2 + 2)"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "4\n"}},
        {"text": "It is 4."},
    ]}, "finishReason": "STOP"}]}  # fmt: skip
    reply = Reply()
    gemini.from_body(reply, body)
    assert reply.parts == ["think more", "print(2 + 2)", "It is 4."]


def test_usage_mapping() -> None:
    reply = Reply()
    gemini.set_usage(reply.tokens, {
        "promptTokenCount": 1000, "cachedContentTokenCount": 600, "candidatesTokenCount": 50,
        "thoughtsTokenCount": 200, "toolUsePromptTokenCount": 7, "totalTokenCount": 1257,
    })  # fmt: skip
    tokens = reply.tokens
    assert (tokens.input, tokens.cache_read, tokens.output, tokens.reasoning) == (
        407,
        600,
        250,
        200,
    )
    gemini.set_usage(tokens, {"promptTokenCount": 5})  # an early chunk: only what it says
    assert (tokens.input, tokens.cache_read, tokens.output, tokens.reasoning) == (5, 0, 250, 200)


def test_malformed_events_are_counted_not_raised() -> None:
    good = gemini_api.responses(Scripted(blocks=(Text("fine"),)), MODEL)
    chunks = [b"data: {not json\r\n\r\n", b"data: [1, 2]\r\n\r\n"]
    chunks += [f"data: {json.dumps(r)}\r\n\r\n".encode() for r in good]
    reply, _ = _feed(gemini.Stream(), chunks)
    assert reply.malformed == 2
    assert reply.parts == ["fine"] and reply.complete

    array = gemini.ArrayStream()
    array.feed(b'[{"candidates": "nope"}, 7, {"broken": ')
    reply = array.reply()
    assert reply.malformed == 1, "the element cut off mid-way"
    assert not reply.complete and reply.parts == []


def test_truncated_stream_is_incomplete_with_what_came() -> None:
    chunks = _sse_bytes(SCRIPTED)[:3]
    reply, finals = _feed(gemini.Stream(), chunks)
    assert not reply.complete and not any(finals)
    assert reply.parts and reply.parts[0].startswith("I should")


def test_mid_stream_error_is_not_an_answer() -> None:
    rendered = gemini_api.error(Failure(503, message="overloaded", mid_stream=True),
                                True, MODEL)  # fmt: skip
    reply, finals = _feed(gemini.Stream(), list(rendered.events))
    assert not reply.complete and not any(finals)
    assert reply.malformed == 0


def test_blocked_prompt_ends_the_answer() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"},
               "usageMetadata": {"promptTokenCount": 9}}  # fmt: skip
    reply, finals = _feed(gemini.Stream(), [f"data: {json.dumps(blocked)}\n\n".encode()])
    assert finals == [True] and reply.complete and reply.parts == []
    assert reply.tokens.input == 9


def test_two_candidates_end_when_both_finish() -> None:
    def chunk(index: int, text: str, finish: bool) -> bytes:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}]}, "index": index}
        if finish:
            candidate["finishReason"] = "STOP"
        return f"data: {json.dumps({'candidates': [candidate]})}\n\n".encode()

    parser = gemini.Stream()
    assert not parser.feed(chunk(0, "a", False) + chunk(1, "b", False))
    assert not parser.feed(chunk(0, "A", True))
    assert parser.feed(chunk(1, "B", True))
    assert parser.reply().parts == ["aA", "bB"]


def test_request_text_is_the_new_user_turn_and_function_responses() -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "You are Gemini CLI."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "old question"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "read_file", "response": {"output": "x = 1\n"}}},
                {"text": "and now?"},
            ]},
        ],
    }  # fmt: skip
    assert gemini.request_text(body) == ["x = 1\n", "and now?"]
    assert gemini.request_text({"contents": "nonsense"}) == []


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1beta/models/gemini-2.5-pro:streamGenerateContent", "gemini-2.5-pro"),
        ("/v1/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash"),
        ("/v1beta/tunedModels/my-tune:generateContent", "my-tune"),
        ("/v1beta/models", None),
        ("/v1beta/models/a/b:generateContent", None),
    ],
)
def test_path_model(path: str, model: str | None) -> None:
    assert gemini.path_model(path) == model


def test_api_routes_parsers_and_errors() -> None:
    assert APIS["gemini"] is GEMINI
    assert GEMINI.is_recorded("/v1beta/models/gemini-2.5-pro:streamGenerateContent")
    assert GEMINI.is_recorded("/v1/models/gemini-2.5-pro:generateContent")
    assert GEMINI.is_recorded("/v1beta/models/gemini-2.5-pro:generateContent", "GET")
    assert GEMINI.is_metadata("/v1beta/models/gemini-2.5-pro:countTokens", "POST")
    assert GEMINI.is_metadata("/v1beta/models", "GET")
    assert GEMINI.is_metadata("/v1beta/models/gemini-2.5-pro", "GET")
    for path in ("/v1beta/models/x:embedContent", "/v1beta/models/x:batchGenerateContent",
                 "/v1beta/cachedContents", "/upload/v1beta/files", "/v1beta/models/a/b",
                 "/v1beta/models/x:predict"):  # fmt: skip
        recorded, metadata = GEMINI.is_recorded(path, "POST"), GEMINI.is_metadata(path, "POST")
        assert not recorded and not metadata, path
    stream = "/v1beta/models/m:streamGenerateContent"
    assert isinstance(GEMINI.parser(stream, "text/event-stream"), gemini.Stream)
    assert isinstance(GEMINI.parser(stream, "application/json; charset=UTF-8"), gemini.ArrayStream)
    assert isinstance(GEMINI.parser("/v1beta/models/m:generateContent", "application/json"),
                      JsonBody)  # fmt: skip
    assert GEMINI.parser(stream, "text/html") is None
    error = GEMINI.error("not_found", 404, "no such path")
    assert error.body == {"error": {"code": 404, "message": "no such path", "status": "NOT_FOUND"}}
    assert GEMINI.key_header is not None
    assert GEMINI.key_header("vendor-key") == (b"x-goog-api-key", b"vendor-key")
