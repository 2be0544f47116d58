"""The fake upstream against the official SDKs: every scripted shape parses as the real thing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.fakes import script
from tests.fakes.script import Reply, Text, Thinking, ToolCall, Usage
from tests.fakes.vendors import VendorUpstream

MODEL = "claude-sonnet-4-6"
HI = [{"role": "user", "content": "hi"}]
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello, world\n*** End Patch\n"
WRITE = {"file_path": "/tmp/app.py", "content": "def add(a, b):\n    return a + b\n"}


def claude(up: VendorUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=up.base_url, api_key="sk-ant-test", max_retries=0)


def gpt(up: VendorUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=up.base_url + "/v1", api_key="sk-test", max_retries=0)


def sse_events(response: httpx.Response) -> list[tuple[str | None, str]]:
    """(event name, data) of each server-sent event in a raw response."""
    out = []
    for chunk in response.text.split("\n\n"):
        if not chunk:
            continue
        fields = dict(line.split(": ", 1) for line in chunk.split("\n"))
        out.append((fields.get("event"), fields["data"]))
    return out


# --- Anthropic -------------------------------------------------------------------------------


def test_anthropic_stream_thinking_and_text(vendor_upstream: VendorUpstream) -> None:
    usage = Usage(input_tokens=40, output_tokens=30, cache_read_tokens=7, cache_write_tokens=5)
    vendor_upstream.enqueue(
        script.thinking("Two plus two is four.", "The answer is 4.", usage=usage, id="msg_fixed")
    )
    with claude(vendor_upstream).messages.stream(model=MODEL, max_tokens=64, messages=HI) as s:
        deltas = [e.delta.text for e in s if e.type == "content_block_delta" and e.delta.type == "text_delta"]  # noqa: E501  # fmt: skip
        final = s.get_final_message()
    assert len(deltas) > 1 and "".join(deltas) == "The answer is 4."
    assert final.id == "msg_fixed" and final.model == MODEL and final.stop_reason == "end_turn"
    assert final.content[0].type == "thinking"
    assert final.content[0].thinking == "Two plus two is four."
    assert final.content[0].signature == "c2lnbmF0dXJl"
    assert final.content[1].type == "text" and final.content[1].text == "The answer is 4."
    # message_start said output_tokens=1; the cumulative message_delta usage replaced it
    assert (final.usage.input_tokens, final.usage.output_tokens) == (40, 30)
    assert final.usage.cache_read_input_tokens == 7
    assert final.usage.cache_creation_input_tokens == 5


def test_anthropic_raw_event_sequence(vendor_upstream: VendorUpstream) -> None:
    vendor_upstream.enqueue(script.tool_call("Write", WRITE, say="Writing it."))
    body = {"model": MODEL, "max_tokens": 64, "messages": HI, "stream": True}
    response = httpx.post(
        vendor_upstream.base_url + "/v1/messages?beta=true",
        json=body,
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["request-id"].startswith("req_")
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert all(json.loads(data)["type"] == name for name, data in events)
    start = json.loads(events[0][1])["message"]
    assert start["usage"]["output_tokens"] == 1 and start["content"] == []
    partial = [
        json.loads(d)["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and "partial_json" in d
    ]
    assert len(partial) > 2 and json.loads("".join(partial)) == WRITE
    delta = json.loads(events[-2][1])
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert set(delta["usage"]) >= {"cache_creation_input_tokens", "cache_read_input_tokens"}
    assert vendor_upstream.requests[0].query == "beta=true"


def test_anthropic_tool_use_streamed_and_not(vendor_upstream: VendorUpstream) -> None:
    client = claude(vendor_upstream)
    vendor_upstream.enqueue(script.tool_call("Write", WRITE), script.tool_call("Write", WRITE))
    with client.messages.stream(model=MODEL, max_tokens=64, messages=HI) as s:
        streamed = s.get_final_message()
    plain = client.beta.messages.create(
        model=MODEL, max_tokens=64, messages=HI, betas=["interleaved-thinking-2025-05-14"]
    )
    for message in (streamed, plain):
        (block,) = message.content
        assert block.type == "tool_use" and block.name == "Write" and block.input == WRITE
        assert block.id.startswith("toolu_") and message.stop_reason == "tool_use"
    beta = vendor_upstream.requests[1].header("anthropic-beta")
    assert beta == "interleaved-thinking-2025-05-14"


def test_anthropic_errors(vendor_upstream: VendorUpstream) -> None:
    client = claude(vendor_upstream)
    vendor_upstream.enqueue(script.error(529, "Overloaded"))
    with pytest.raises(anthropic.APIStatusError) as plain:
        client.messages.create(model=MODEL, max_tokens=64, messages=HI)
    assert plain.value.status_code == 529
    assert plain.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}

    vendor_upstream.enqueue(script.error(500, "Stream broke", mid_stream=True))
    with (
        pytest.raises(anthropic.APIStatusError, match="Stream broke") as mid,
        client.messages.stream(model=MODEL, max_tokens=64, messages=HI) as s,
    ):
        s.get_final_message()
    assert mid.value.body["error"]["type"] == "api_error"


def test_anthropic_cut_stream(vendor_upstream: VendorUpstream) -> None:
    vendor_upstream.enqueue(script.text("This answer is cut off in the middle.", cut_after=5))
    with (
        pytest.raises(Exception, match="incomplete chunked read"),  # the SDK's httpx error
        claude(vendor_upstream).messages.stream(model=MODEL, max_tokens=64, messages=HI) as s,
    ):
        s.get_final_message()


def test_anthropic_count_tokens_and_models(vendor_upstream: VendorUpstream) -> None:
    client = claude(vendor_upstream)
    counted = client.messages.count_tokens(model=MODEL, messages=HI)
    assert counted.input_tokens >= 1
    assert MODEL in [m.id for m in client.models.list()]
    assert vendor_upstream.pending == 0 and vendor_upstream.model_calls == []


# --- OpenAI Chat Completions -----------------------------------------------------------------


def test_chat_stream_tool_calls_and_usage(vendor_upstream: VendorUpstream) -> None:
    usage = Usage(input_tokens=20, output_tokens=9, cache_read_tokens=4, reasoning_tokens=3)
    vendor_upstream.enqueue(
        script.tool_call("get_weather", {"city": "Paris"}, say="Checking.", usage=usage)
    )
    with gpt(vendor_upstream).chat.completions.stream(
        model="gpt-5", messages=HI, stream_options={"include_usage": True}
    ) as s:
        final = s.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == "Checking."
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (24, 9)
    assert final.usage.prompt_tokens_details.cached_tokens == 4
    assert final.usage.completion_tokens_details.reasoning_tokens == 3


def test_chat_raw_chunks(vendor_upstream: VendorUpstream) -> None:
    vendor_upstream.enqueue(script.tool_call("f", {"x": "a long argument value"}))
    body = {
        "model": "gpt-5",
        "messages": HI,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = httpx.post(vendor_upstream.base_url + "/v1/chat/completions", json=body)
    events = sse_events(response)
    assert all(name is None for name, _ in events) and events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 37
    assert all(c["usage"] is None for c in chunks[:-1])
    pieces = [
        c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for c in chunks[:-1]
        if "tool_calls" in c["choices"][0]["delta"]
    ]
    assert len(pieces) > 2 and json.loads("".join(pieces)) == {"x": "a long argument value"}


def test_chat_not_streamed(vendor_upstream: VendorUpstream) -> None:
    vendor_upstream.enqueue(script.text("Plain answer."))
    completion = gpt(vendor_upstream).chat.completions.create(model="gpt-5", messages=HI)
    assert completion.choices[0].message.content == "Plain answer."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens == 37


def test_chat_errors(vendor_upstream: VendorUpstream) -> None:
    client = gpt(vendor_upstream)
    vendor_upstream.enqueue(script.error(429, "Rate limit reached"))
    with pytest.raises(openai.RateLimitError) as plain:
        client.chat.completions.create(model="gpt-5", messages=HI)
    assert plain.value.body == {
        "message": "Rate limit reached",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    vendor_upstream.enqueue(script.error(500, "Upstream died", mid_stream=True))
    with pytest.raises(openai.APIError, match="Upstream died"):
        list(client.chat.completions.create(model="gpt-5", messages=HI, stream=True))


# --- OpenAI Responses ------------------------------------------------------------------------


def _everything(usage: Usage) -> Reply:
    return Reply(
        blocks=(
            Thinking("Plan: add the file."),
            Text("Adding hello.txt."),
            ToolCall("shell", {"command": ["ls", "-la"]}),
            ToolCall("apply_patch", PATCH),
        ),
        usage=usage,
    )


def test_responses_stream_everything(vendor_upstream: VendorUpstream) -> None:
    usage = Usage(input_tokens=50, output_tokens=20, cache_read_tokens=30, reasoning_tokens=8)
    vendor_upstream.enqueue(_everything(usage))
    with gpt(vendor_upstream).responses.stream(model="gpt-5-codex", input="hi") as s:
        kinds = [e.type for e in s]
        final = s.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    for kind in (
        "response.reasoning_summary_text.delta",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
    ):
        assert kind in kinds
    reasoning, message, call, patch = final.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Plan: add the file."
    assert message.type == "message" and final.output_text == "Adding hello.txt."
    assert call.type == "function_call" and json.loads(call.arguments) == {"command": ["ls", "-la"]}
    assert patch.type == "custom_tool_call" and patch.name == "apply_patch"
    assert patch.input == PATCH and patch.call_id.startswith("call_")
    assert final.status == "completed" and final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (80, 20)
    assert final.usage.input_tokens_details.cached_tokens == 30
    assert final.usage.output_tokens_details.reasoning_tokens == 8


def test_responses_sequence_numbers(vendor_upstream: VendorUpstream) -> None:
    vendor_upstream.enqueue(_everything(Usage()))
    body = {"model": "gpt-5", "input": "hi", "stream": True}
    events = sse_events(httpx.post(vendor_upstream.base_url + "/v1/responses", json=body))
    data = [json.loads(d) for _, d in events]
    assert [d["sequence_number"] for d in data] == list(range(len(data)))
    assert all(d["type"] == name for (name, _), d in zip(events, data, strict=True))
    assert len({d["response"]["id"] for d in data if "response" in d}) == 1


def test_responses_not_streamed(vendor_upstream: VendorUpstream) -> None:
    vendor_upstream.enqueue(script.tool_call("apply_patch", PATCH))
    response = gpt(vendor_upstream).responses.create(model="gpt-5", input="hi")
    (call,) = response.output
    assert call.type == "custom_tool_call" and call.input == PATCH
    assert response.id.startswith("resp_") and response.usage is not None


def test_responses_errors(vendor_upstream: VendorUpstream) -> None:
    client = gpt(vendor_upstream)
    vendor_upstream.enqueue(script.error(401, "Incorrect API key provided"))
    with pytest.raises(openai.AuthenticationError) as plain:
        client.responses.create(model="gpt-5", input="hi")
    assert plain.value.code == "invalid_api_key"
    vendor_upstream.enqueue(script.error(500, "The model failed", mid_stream=True))
    events = list(client.responses.create(model="gpt-5", input="hi", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.error is not None
    assert events[-1].response.error.message == "The model failed"


def test_openai_models(vendor_upstream: VendorUpstream) -> None:
    assert "gpt-5" in [m.id for m in gpt(vendor_upstream).models.list()]


# --- Scripting and recording -----------------------------------------------------------------


def test_records_every_request(vendor_upstream: VendorUpstream) -> None:
    claude(vendor_upstream).messages.create(
        model=MODEL, max_tokens=8, messages=HI, extra_headers={"X-Claude-Code-Session-Id": "s1"}
    )
    (request,) = vendor_upstream.requests
    assert (request.method, request.path, request.query) == ("POST", "/v1/messages", "")
    assert request.header("x-claude-code-session-id") == "s1"
    # anthropic 2.x sends the key as a bearer token, older SDKs and Claude Code as x-api-key
    credential = request.header("X-Api-Key") or request.header("Authorization")
    assert credential in ("sk-ant-test", "Bearer sk-ant-test")
    assert request.json()["messages"] == HI and isinstance(request.body, bytes)


def test_default_reply_and_matchers(vendor_upstream: VendorUpstream) -> None:
    client = claude(vendor_upstream)
    vendor_upstream.enqueue(script.text("for tools"), when=lambda r: "tools" in r.json())
    first = client.messages.create(model=MODEL, max_tokens=8, messages=HI)
    assert first.content[0].type == "text"
    assert first.content[0].text.startswith("This is a scripted answer")
    assert vendor_upstream.pending == 1
    tool = {"name": "f", "description": "f", "input_schema": {"type": "object"}}
    second = client.messages.create(model=MODEL, max_tokens=8, messages=HI, tools=[tool])
    assert second.content[0].type == "text" and second.content[0].text == "for tools"
    assert vendor_upstream.pending == 0


def test_unknown_path_is_a_vendor_404(vendor_upstream: VendorUpstream) -> None:
    response = httpx.get(vendor_upstream.base_url + "/v1/nothing", headers={"x-api-key": "k"})
    assert response.status_code == 404 and response.json()["type"] == "error"
    response = httpx.get(vendor_upstream.base_url + "/v1/nothing")
    assert response.status_code == 404 and "message" in response.json()["error"]


def test_delay_per_event(vendor_upstream: VendorUpstream) -> None:
    vendor_upstream.enqueue(script.text("slow", delay=0.05))
    started = time.monotonic()
    with claude(vendor_upstream).messages.stream(model=MODEL, max_tokens=8, messages=HI) as s:
        s.get_final_message()
    # message_start, block start, ping, 1 delta, block stop, message_delta, message_stop
    assert time.monotonic() - started >= 7 * 0.05


def test_standalone_server(tmp_path: Path) -> None:
    with VendorUpstream() as probe:
        port = probe.port  # a port that was free a moment ago
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    command = [sys.executable, "-m", "tests.fakes.vendors", "--port", str(port), "--text", "pong"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        assert f"127.0.0.1:{port}" in server.stdout.readline()
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k")
        for _ in range(100):
            try:
                reply = client.chat.completions.create(model="gpt-5", messages=HI)
                break
            except openai.APIConnectionError:
                time.sleep(0.05)
        assert reply.choices[0].message.content == "pong"
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
