"""Parsers against hand-written wire transcripts: text, thinking, tool inputs, usage."""

from __future__ import annotations

import json
import zlib

import pytest
import zstandard

from distillguard.capture.gateway import routes
from distillguard.capture.gateway.decode import decoder_for
from distillguard.capture.wire import (
    Parser,
    Reply,
    openai_chat,
    openai_responses,
)
from distillguard.capture.wire import anthropic as anthropic_wire
from distillguard.capture.wire import prices as pricing
from distillguard.capture.wire.api import api_of
from distillguard.errors import ConfigError
from distillguard.model import Usage
from tests.capture.gateway.wire import (
    ANTHROPIC_STREAM,
    CHAT_STREAM,
    RESPONSES_STREAM,
    WRITE_CONTENT,
    sse,
)

SSE = "text/event-stream; charset=utf-8"


def _run(parser: Parser, data: bytes, size: int) -> tuple[Reply, list[int]]:
    """Feed ``data`` in ``size``-byte chunks; returns the reply and where ``feed`` said final."""
    finals = []
    for start in range(0, len(data), size):
        if parser.feed(data[start : start + size]):
            finals.append(start)
    return parser.reply(), finals


def _fresh(api: str, path: str, content_type: str = SSE) -> Parser:
    parser = api_of(api).parser(path, content_type)
    assert parser is not None
    return parser


@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
def test_anthropic_stream(size: int) -> None:
    reply, finals = _run(_fresh("anthropic", "/v1/messages"), ANTHROPIC_STREAM, size)
    assert reply.complete and reply.malformed == 0
    assert reply.message_id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert reply.model == "claude-sonnet-4-5-20250929"
    assert reply.parts == ["I should write it.", "I'll create the file.", WRITE_CONTENT,
                           "x = brand_new_value()"]  # fmt: skip
    assert reply.quoted == ["x = old_value()"]
    assert reply.tool_calls == ["Write", "Edit"]
    # message_start said 2 output tokens; the cumulative message_delta says 189
    assert reply.tokens == Usage(input=472, output=189, cache_read=20000, cache_write=1000,
                                  cache_write_1h=0)  # fmt: skip
    # the final event is in the last chunk fed, and only there
    assert finals == [len(ANTHROPIC_STREAM) - 1 - (len(ANTHROPIC_STREAM) - 1) % size]


def test_anthropic_message_delta_overwrites_every_count_it_carries() -> None:
    start = {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {
        "input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 5}}}  # fmt: skip
    delta = {"type": "message_delta", "delta": {}, "usage": {
        "input_tokens": 12, "output_tokens": 40, "cache_read_input_tokens": 7}}  # fmt: skip
    data = sse([("message_start", start), ("message_delta", delta), ("message_stop", {})])
    reply, _ = _run(_fresh("anthropic", "/v1/messages"), data, 5)
    assert (reply.tokens.input, reply.tokens.output, reply.tokens.cache_read) == (12, 40, 7)


def test_anthropic_cut_stream_is_incomplete_but_keeps_what_came() -> None:
    cut = ANTHROPIC_STREAM[
        : ANTHROPIC_STREAM.index(
            b'event: content_block_start\ndata: {"type": "content_block_start", "index": 2'
        )
    ]
    reply, finals = _run(_fresh("anthropic", "/v1/messages"), cut, 50)
    assert not reply.complete and finals == []
    assert reply.parts == ["I should write it.", "I'll create the file."]


def test_malformed_events_are_counted_not_raised() -> None:
    data = b"event: message_start\ndata: {not json\n\n" + ANTHROPIC_STREAM
    reply, _ = _run(_fresh("anthropic", "/v1/messages"), data, 100)
    assert reply.malformed == 1 and reply.complete


def test_crlf_framing() -> None:
    reply, _ = _run(
        _fresh("openai", "/v1/chat/completions"), CHAT_STREAM.replace(b"\n", b"\r\n"), 3
    )
    assert reply.complete and reply.parts[0] == "Here it is."


@pytest.mark.parametrize("size", [1, 13, 10_000])
def test_chat_stream(size: int) -> None:
    reply, finals = _run(_fresh("openai", "/v1/chat/completions"), CHAT_STREAM, size)
    assert reply.complete and len(finals) == 1
    assert reply.message_id == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
    assert reply.model == "gpt-4o-2024-08-06"
    assert reply.parts == ["Here it is.", "add.py", WRITE_CONTENT]
    assert reply.tool_calls == ["write_file"]
    assert reply.tokens == Usage(input=176, output=48, cache_read=1024, reasoning=0)


def test_chat_reasoning_content() -> None:
    chunk = {"id": "chatcmpl-1", "model": "qwen", "choices": [
        {"index": 0, "delta": {"reasoning_content": "think"}}]}  # fmt: skip
    data = sse([(None, chunk), (None, "[DONE]")])
    reply, _ = _run(_fresh("openai", "/v1/chat/completions"), data, 10_000)
    assert reply.parts == ["think"] and reply.tokens.output is None


@pytest.mark.parametrize("size", [1, 33, 100_000])
def test_responses_stream(size: int) -> None:
    reply, finals = _run(_fresh("openai", "/v1/responses"), RESPONSES_STREAM, size)
    assert reply.complete and len(finals) == 1
    assert reply.message_id == "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654"
    assert reply.model == "gpt-5-codex"
    added = "def hello():\n    return 'hi'\n    run_new()\n"
    assert reply.parts == ["**Planning the patch**", added, "Patched."]
    assert reply.quoted == ["    setup()\n    run_old()\n"]
    assert reply.tool_calls == ["apply_patch"]
    assert reply.tokens == Usage(input=1000, output=300, cache_read=8000, reasoning=128)


def test_responses_cut_stream_keeps_deltas() -> None:
    cut = RESPONSES_STREAM[: RESPONSES_STREAM.index(b"event: response.output_item.done")]
    reply, _ = _run(_fresh("openai", "/v1/responses"), cut, 40)
    assert not reply.complete and reply.parts == ["**Planning the patch**"]


def test_function_call_apply_patch_and_shell() -> None:
    body = {"id": "resp_2", "model": "gpt-5", "output": [
        {"type": "function_call", "name": "apply_patch", "arguments": json.dumps({"input": "*** Begin Patch\n*** Add File: a\n+x = 1\n*** End Patch"})},  # noqa: E501
        {"type": "function_call", "name": "shell", "arguments": json.dumps({"command": ["apply_patch", "*** Begin Patch\n*** Add File: b\n+y = 2\n*** End Patch"]})},  # noqa: E501
        {"type": "function_call", "name": "shell", "arguments": json.dumps({"command": ["ls", "-la"], "workdir": "/w"})},  # noqa: E501
    ], "usage": {"input_tokens": 10, "output_tokens": 5}}  # fmt: skip
    reply = _body("openai", "/v1/responses", body)
    assert reply.parts == ["x = 1\n", "y = 2\n", "ls", "-la", "/w"]
    assert reply.tokens == Usage(input=10, output=5, cache_read=0)


def _body(api: str, path: str, body: dict[str, object]) -> Reply:
    parser = _fresh(api, path, "application/json")
    data = json.dumps(body).encode()
    assert not parser.feed(data[:10]) and not parser.feed(data[10:])
    return parser.reply()


def test_anthropic_body() -> None:
    body = {"id": "msg_9", "type": "message", "role": "assistant", "model": "claude-opus-4-5",
            "content": [{"type": "text", "text": "Sure."},
                        {"type": "tool_use", "id": "t", "name": "MultiEdit", "input": {
                            "file_path": "f", "edits": [
                                {"old_string": "a = 1", "new_string": "a = 2"},
                                {"old_string": "b = 1", "new_string": "b = 3"}]}}],
            "usage": {"input_tokens": 3, "output_tokens": 9, "cache_read_input_tokens": 0,
                      "cache_creation_input_tokens": 0}}  # fmt: skip
    reply = _body("anthropic", "/v1/messages", body)
    assert reply.complete and reply.message_id == "msg_9"
    assert reply.parts == ["Sure.", "a = 2", "b = 3"] and reply.quoted == ["a = 1", "b = 1"]
    assert reply.tokens.output == 9


def test_chat_body() -> None:
    body = {"id": "chatcmpl-9", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!",
                         "tool_calls": [{"id": "c", "type": "function", "function": {
                             "name": "f", "arguments": "{\"q\": \"x\"}"}}]},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}}  # fmt: skip
    reply = _body("openai", "/v1/chat/completions", body)
    assert reply.parts == ["Hi!", "x"]
    assert reply.tokens == Usage(input=9, output=12, cache_read=0)


def test_not_json_body_is_malformed() -> None:
    parser = _fresh("anthropic", "/v1/messages", "application/json")
    parser.feed(b"<html>bad gateway</html>")
    reply = parser.reply()
    assert reply.malformed == 1 and not reply.complete


def test_routes_and_content_types_without_a_parser() -> None:
    assert routes.kind(api_of("anthropic"), "/v1/messages/count_tokens") == "metadata"
    assert routes.kind(api_of("openai"), "/v1/models") == "metadata"
    assert api_of("anthropic").parser("/v1/messages", "text/html") is None


def test_request_text_is_the_new_part_of_the_turn() -> None:
    body = {"system": "You are Claude Code", "messages": [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": [{"type": "text", "text": "answer"}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": "file body"},
            {"type": "text", "text": "go on"}]},
    ]}  # fmt: skip
    assert anthropic_wire.request_text(body) == ["file body", "go on"]
    assert anthropic_wire.request_text({"messages": [{"role": "user", "content": "q"}]}) == ["q"]
    chat = {"messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "u1"},
                         {"role": "assistant", "content": "a"},
                         {"role": "tool", "content": "out"},
                         {"role": "user", "content": [{"type": "text", "text": "u2"}]},
                         ]}  # fmt: skip
    assert openai_chat.request_text(chat) == ["out", "u2"]
    responses = {"instructions": "sys", "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "d"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "u1"}]},
        {"type": "custom_tool_call", "name": "apply_patch", "input": "p", "call_id": "c"},
        {"type": "custom_tool_call_output", "call_id": "c", "output": "Done!"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "u2"}]},
    ]}  # fmt: skip
    assert openai_responses.request_text(responses) == ["Done!", "u2"]
    assert openai_responses.request_text({"input": "hello"}) == ["hello"]


def test_prices_and_cache_pricing() -> None:
    table = pricing.load()
    assert table.version
    tokens = Usage(input=1_000_000, output=1_000_000, cache_read=1_000_000,
                    cache_write=2_000_000, cache_write_1h=1_000_000)  # fmt: skip
    # sonnet 4.5: 3 + 15 + 0.30 + 3.75 (5 min) + 6.00 (1 h)
    assert table.cost("anthropic", "claude-sonnet-4-5-20250929", tokens) == pytest.approx(28.05)
    chat = Usage(input=176, output=48, cache_read=1024)
    assert table.cost("openai", "gpt-4o-2024-08-06", chat) == pytest.approx(
        (176 * 2.5 + 48 * 10 + 1024 * 1.25) / 1e6
    )
    assert table.cost("anthropic", "claude-unknown-9", tokens) is None
    assert table.cost("metacode", "m", tokens) is None
    assert table.cost("anthropic", "claude-sonnet-4-5", Usage()) is None


def test_price_table_errors() -> None:
    with pytest.raises(ConfigError, match="version"):
        pricing.parse({"openai": {}}, "t")
    with pytest.raises(ConfigError, match="input must be a non-negative number"):
        pricing.parse({"version": "1", "openai": {"gpt": {"input": "3", "output": 1}}}, "t")
    with pytest.raises(ConfigError, match="unknown field"):
        pricing.parse({"version": "1", "openai": {"gpt": {"input": 1, "output": 1, "x": 1}}}, "t")
    table = pricing.parse({"version": "v2", "metacode": {"*": {"input": 0, "output": 0}}}, "t")
    assert table.cost("metacode", "any-model", Usage(input=5, output=5)) == 0.0


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd", "identity", ""])
def test_encoded_responses_are_decoded_for_the_parser(encoding: str) -> None:
    encode = {
        "gzip": lambda b: zlib.compress(b, wbits=16 + zlib.MAX_WBITS),
        "deflate": zlib.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }.get(encoding, lambda b: b)
    data = encode(ANTHROPIC_STREAM)
    decode = decoder_for(encoding)
    assert decode is not None
    parser = _fresh("anthropic", "/v1/messages")
    for start in range(0, len(data), 50):
        parser.feed(decode(data[start : start + 50]))
    assert parser.reply().complete
    assert decoder_for("br") is None
