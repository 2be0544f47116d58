"""Bedrock's wire format: event-stream framing (checked against botocore's own decoder), the
Anthropic events inside, invocation metrics, the model in the path, refusals."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.eventstream import EventStreamBuffer

from distillguard.capture.wire import bedrock
from distillguard.capture.wire.api import APIS, ERROR_KINDS
from tests.fakes import bedrock_api
from tests.fakes.script import Reply, Text, Thinking, ToolCall, Usage

MODEL_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
USAGE = Usage(input_tokens=40, output_tokens=17, cache_read_tokens=900, cache_write_tokens=30)
REPLY = Reply(
    blocks=(
        Thinking("Plan: one function."),
        Text("Here it is."),
        ToolCall("Write", {"file_path": "a.py", "content": "def f():\n    return 1\n"}),
    ),
    usage=USAGE,
    id="msg_bdrk_01XYZ",
)


def stream_bytes(reply: Reply = REPLY) -> bytes:
    model = bedrock_api.base_model(MODEL_ID)
    return b"".join(bedrock_api.chunk(e) for e in bedrock_api.events(reply, model))


def parse(data: bytes, step: int | None = None) -> tuple[bedrock.Stream, bool]:
    stream = bedrock.Stream()
    pieces = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    final = [stream.feed(piece) for piece in pieces]
    return stream, any(final)


def test_the_fake_frames_are_what_botocore_decodes() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(stream_bytes())
    messages = list(buffer)
    assert messages, "botocore found no message"
    for message in messages:
        assert message.headers[":message-type"] == "event"
        assert message.headers[":event-type"] == "chunk"
        event = json.loads(base64.b64decode(json.loads(message.payload)["bytes"]))
        assert event["type"] != "ping"
    last = json.loads(base64.b64decode(json.loads(messages[-1].payload)["bytes"]))
    assert last["type"] == "message_stop"
    assert last["amazon-bedrock-invocationMetrics"]["inputTokenCount"] == 40


@pytest.mark.parametrize("step", [None, 1, 7, 64])
def test_a_stream_is_rebuilt_however_it_is_cut(step: int | None) -> None:
    stream, final = parse(stream_bytes(), step)
    reply = stream.reply()
    assert final and reply.complete and reply.malformed == 0
    assert reply.message_id == "msg_bdrk_01XYZ"
    assert reply.model == "claude-sonnet-4-5-20250929"
    assert "Plan: one function." in reply.text and "Here it is." in reply.text
    assert "def f():\n    return 1\n" in reply.text
    assert reply.tool_calls == ["Write"]
    tokens = reply.tokens
    assert (tokens.input, tokens.output, tokens.cache_read, tokens.cache_write) == (40, 17, 900, 30)


def test_the_final_event_is_reported_in_the_chunk_that_holds_it() -> None:
    data = stream_bytes()
    last = bedrock_api.chunk(bedrock_api.events(REPLY, "claude-sonnet-4-5")[-1])
    stream = bedrock.Stream()
    assert stream.feed(data[: -len(last)]) is False
    assert stream.feed(data[-len(last) :]) is True


def test_invocation_metrics_fill_counts_the_events_left_out() -> None:
    events = bedrock_api.events(REPLY, "claude-sonnet-4-5")
    for event in events:
        event.get("message", {}).pop("usage", None)
        event.pop("usage", None)
    stream, _ = parse(b"".join(bedrock_api.chunk(e) for e in events))
    tokens = stream.reply().tokens
    assert (tokens.input, tokens.output, tokens.cache_read, tokens.cache_write) == (40, 17, 900, 30)


def test_an_exception_frame_ends_the_answer_incomplete() -> None:
    events = bedrock_api.events(Reply(blocks=(Text("Partial answer"),)), "claude-haiku-4-5")
    data = b"".join(bedrock_api.chunk(e) for e in events[:3])
    data += bedrock_api.exception("throttlingException", "Too many requests")
    stream, final = parse(data)
    reply = stream.reply()
    assert not final and not reply.complete
    assert reply.text == "Partial"  # the first delta only (7 characters per delta)


def test_a_corrupt_frame_is_counted_and_stops_the_parser_without_raising() -> None:
    data = bytearray(stream_bytes())
    data[20] ^= 0xFF  # inside the first frame's headers: its message checksum fails
    stream, final = parse(bytes(data))
    assert not final and stream.reply().malformed == 1
    assert stream.feed(stream_bytes()) is False  # the rest cannot be framed


def test_a_bad_prelude_is_corrupt_too() -> None:
    data = bytearray(stream_bytes())
    data[1] ^= 0x01  # the total length: its prelude checksum fails
    stream, _ = parse(bytes(data))
    assert stream.reply().malformed == 1


def test_a_chunk_without_base64_bytes_is_malformed() -> None:
    bad = bedrock_api.frame(
        {":event-type": "chunk", ":message-type": "event"}, b'{"bytes": "not base64!"}'
    )
    stream, _ = parse(bad + stream_bytes())
    assert stream.reply().malformed == 1
    assert stream.reply().complete


def test_the_model_is_read_from_the_path_decoded() -> None:
    encoded = "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
    assert bedrock.path_model(f"/model/{encoded}/invoke") == MODEL_ID
    assert bedrock.path_model(f"/model/{encoded}/invoke-with-response-stream") == MODEL_ID
    assert bedrock.path_model("/model/x/converse") is None


def test_routes_model_calls_metadata_and_the_rest() -> None:
    api = APIS["bedrock"]
    encoded = "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
    assert api.is_recorded(f"/model/{encoded}/invoke", "POST")
    assert api.is_recorded(f"/model/{encoded}/invoke-with-response-stream", "POST")
    assert api.is_metadata(f"/model/{encoded}/count-tokens", "POST")
    for other in ("/model/m/converse", "/model/m/converse-stream", "/async-invoke",
                  "/inference-profiles"):  # fmt: skip
        assert not api.is_recorded(other, "POST") and not api.is_metadata(other, "POST")
    assert api.key_header is None


def test_parsers_by_content_type() -> None:
    assert isinstance(bedrock.parser("/model/m/invoke-with-response-stream",
                                     bedrock.EVENT_STREAM), bedrock.Stream)  # fmt: skip
    body = bedrock.parser("/model/m/invoke", "application/json")
    assert body is not None
    body.feed(json.dumps({"id": "msg_bdrk_1", "model": "claude-x", "content": [
        {"type": "text", "text": "Hello"}], "usage": {"input_tokens": 3, "output_tokens": 1}}
    ).encode())  # fmt: skip
    reply = body.reply()
    assert (reply.message_id, reply.text, reply.tokens.input) == ("msg_bdrk_1", "Hello", 3)
    assert bedrock.parser("/model/m/invoke", "text/html") is None


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_refusals_are_in_bedrocks_error_format(kind: str) -> None:
    error = APIS["bedrock"].error(kind, 400, "why")
    assert error.body == {"message": "why"}
    assert dict(error.headers)[b"x-amzn-errortype"] == bedrock.ERRORS[kind].encode()
