"""The fake Gemini upstream, read by the official google-genai SDK (as Google's own would be)."""

from __future__ import annotations

import json

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.fakes import script
from tests.fakes.script import Reply, Text, Thinking, ToolCall, Usage
from tests.fakes.vendors import VendorUpstream

MODEL = "gemini-2.5-flash"


def _client(upstream: VendorUpstream) -> genai.Client:
    options = types.HttpOptions(base_url=upstream.base_url, api_version="v1beta")
    return genai.Client(api_key="AIza-test", http_options=options)


def test_sdk_reads_the_sse_stream(vendor_upstream: VendorUpstream) -> None:
    usage = Usage(input_tokens=50, output_tokens=20, cache_read_tokens=10, reasoning_tokens=5)
    call = ToolCall("write_file", {"file_path": "a.py", "content": "x = 1\n"})
    reply = Reply(blocks=(Thinking("hmm"), Text("Done: a long enough answer."), call),
                  usage=usage, id="r-1")  # fmt: skip
    vendor_upstream.enqueue(reply)
    client = _client(vendor_upstream)  # held: the SDK closes its HTTP client when collected
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="hi"))
    parts = [p for c in chunks for p in c.candidates[0].content.parts]
    assert "".join(p.text for p in parts if p.thought and p.text) == "hmm"
    assert (
        "".join(p.text for p in parts if not p.thought and p.text) == "Done: a long enough answer."
    )
    assert [p.function_call.name for p in parts if p.function_call] == ["write_file"]
    last = chunks[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.response_id == "r-1" and last.model_version == MODEL
    meta = last.usage_metadata
    assert (meta.prompt_token_count, meta.cached_content_token_count) == (60, 10)
    assert (meta.candidates_token_count, meta.thoughts_token_count) == (15, 5)
    (request,) = vendor_upstream.model_calls
    assert request.query == "alt=sse" and request.header("x-goog-api-key") == "AIza-test"


def test_json_array_stream_and_body(vendor_upstream: VendorUpstream) -> None:
    url = f"{vendor_upstream.base_url}/v1beta/models/{MODEL}:streamGenerateContent"
    vendor_upstream.enqueue(script.text("an answer in pieces of nine"))
    response = httpx.post(url, json={"contents": [{"parts": [{"text": "hi"}]}]})
    assert response.headers["content-type"].startswith("application/json")
    items = json.loads(response.content)
    assert isinstance(items, list) and len(items) > 1
    text = "".join(i["candidates"][0]["content"]["parts"][0]["text"] for i in items)
    assert text == "an answer in pieces of nine"
    vendor_upstream.enqueue(script.text("whole"))
    client = _client(vendor_upstream)
    answer = client.models.generate_content(model=MODEL, contents="hi")
    assert answer.text == "whole"


def test_count_tokens_models_and_errors(vendor_upstream: VendorUpstream) -> None:
    client = _client(vendor_upstream)
    assert (client.models.count_tokens(model=MODEL, contents="count me").total_tokens or 0) > 0
    assert MODEL in [m.name for m in client.models.list()][1]
    vendor_upstream.enqueue(script.error(404, f"models/{MODEL} is not found"))
    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model=MODEL, contents="hi")
    assert raised.value.code == 404 and raised.value.status == "NOT_FOUND"
