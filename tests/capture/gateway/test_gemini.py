"""End to end: the google-genai SDK and plain HTTP -> ``distillguard serve`` -> the scripted Gemini
upstream. The client's distillguard key never reaches the vendor, every answer is recorded."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.capture.gateway.conftest import Served
from tests.fakes.script import Reply, Text, Thinking, ToolCall, Usage
from tests.fakes.vendors import VendorUpstream

MODEL = "gemini-2.5-pro"
VENDOR_KEY = "AIza-vendor-secret"
GEMINI = """
[upstreams.gemini]
api = "gemini"
base_url = "{upstream}"
key_env = "GEMINI_API_KEY"
vendor = "google"
"""
CODE = "def area(r):\n    return 3.14159 * r * r\n"
USAGE = Usage(input_tokens=80, output_tokens=30, cache_read_tokens=20, reasoning_tokens=10)


@pytest.fixture
def served(make_gateway: Callable[..., Served], vendor_upstream: VendorUpstream) -> Served:
    extra = GEMINI.replace("{upstream}", vendor_upstream.base_url)
    gateway = make_gateway(vendor_upstream.base_url, start=False, extra=extra)
    gateway.env["GEMINI_API_KEY"] = VENDOR_KEY
    gateway.keys["gia"] = gateway.new_key("gia", "gemini-users")
    gateway.start(timeout=120)  # a loaded machine can take 20 s and more to start it
    return gateway


def _client(served: Served, key: str) -> genai.Client:
    # v1beta, as Gemini CLI uses (the fake serves OpenAI's model retrieval at /v1/models/{id})
    options = types.HttpOptions(base_url=served.url + "/gemini", api_version="v1beta")
    return genai.Client(api_key=key, http_options=options)


def _assert_no_client_key(upstream: VendorUpstream, key: str) -> None:
    for request in upstream.requests:
        assert request.header("x-goog-api-key") == VENDOR_KEY
        seen = request.query + json.dumps(request.headers) + request.body.decode()
        assert key not in seen, f"the client's key reached the vendor: {request}"
        assert "key=" not in request.query


def test_sdk_stream_is_relayed_and_recorded(
    served: Served, vendor_upstream: VendorUpstream
) -> None:
    call = ToolCall("write_file", {"file_path": "area.py", "content": CODE})
    vendor_upstream.enqueue(Reply(blocks=(Thinking("Plan: one function."), Text("Here it is."),
                                          call), usage=USAGE, id="gem-stream-1"))  # fmt: skip
    client = _client(served, served.keys["gia"])
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(include_thoughts=True)
    )
    chunks = list(client.models.generate_content_stream(
        model=MODEL, contents="write area.py please", config=config))  # fmt: skip
    texts = [p.text for c in chunks for p in c.candidates[0].content.parts if p.text]
    assert "".join(texts) == "Plan: one function.Here it is."
    calls = [p.function_call for c in chunks for p in c.candidates[0].content.parts
             if p.function_call]  # fmt: skip
    assert calls[0].args == {"file_path": "area.py", "content": CODE}

    (call_made,) = vendor_upstream.model_calls
    assert call_made.path == f"/v1beta/models/{MODEL}:streamGenerateContent"
    assert call_made.query == "alt=sse"
    _assert_no_client_key(vendor_upstream, served.keys["gia"])

    (output,) = served.outputs(1)
    assert output.vendor == "google" and output.model == MODEL
    assert output.message_id == "gem-stream-1" and output.upstream == "gemini"
    assert output.actor == "gia" and output.tool == "sdk"
    assert output.text is not None
    assert "Plan: one function." in output.text and "Here it is." in output.text
    assert CODE in output.text and "area.py" not in output.text
    assert output.request == "write area.py please"
    assert (output.input_tokens, output.cache_read_tokens) == (80, 20)
    assert (output.output_tokens, output.reasoning_tokens) == (30, 10)


def test_sdk_generate_content_json_body(served: Served, vendor_upstream: VendorUpstream) -> None:
    vendor_upstream.enqueue(Reply(blocks=(Text("A plain answer."),), id="gem-body-1"))
    client = _client(served, served.keys["gia"])
    answer = client.models.generate_content(model=MODEL, contents="hello")
    assert answer.text == "A plain answer."
    _assert_no_client_key(vendor_upstream, served.keys["gia"])
    (output,) = served.outputs(1)
    assert output.text == "A plain answer." and output.message_id == "gem-body-1"


def test_json_array_stream_with_query_key(served: Served, vendor_upstream: VendorUpstream) -> None:
    """The default stream (no alt=sse) and the key in ``?key=``: the query goes on without it,
    the bytes come back unaltered."""
    vendor_upstream.enqueue(Reply(blocks=(Text("Streamed as a JSON array, in pieces."),),
                                  id="gem-array-1"))  # fmt: skip
    key = served.keys["gia"]
    url = f"{served.url}/gemini/v1beta/models/{MODEL}:streamGenerateContent?key={key}&x=1"
    body = {"contents": [{"role": "user", "parts": [{"text": "stream please"}]}]}
    with httpx.stream("POST", url, json=body, timeout=30) as response:
        raw = b"".join(response.iter_raw())
        assert response.status_code == 200
    items = json.loads(raw)
    text = "".join(p["text"] for item in items for p in item["candidates"][0]["content"]["parts"])
    assert text == "Streamed as a JSON array, in pieces."
    assert raw.startswith(b"[{") and b"\n,\r\n" in raw
    (call,) = vendor_upstream.model_calls
    assert call.query == "x=1"
    _assert_no_client_key(vendor_upstream, key)
    (output,) = served.outputs(1)
    assert output.text == text and output.request == "stream please"


def test_count_tokens_is_metadata(served: Served, vendor_upstream: VendorUpstream) -> None:
    client = _client(served, served.keys["gia"])
    counted = client.models.count_tokens(model=MODEL, contents="how many tokens is this")
    assert counted.total_tokens is not None and counted.total_tokens > 0
    assert client.models.get(model=MODEL).name == f"models/{MODEL}"
    _assert_no_client_key(vendor_upstream, served.keys["gia"])
    assert served.outputs(0, timeout=1) == []


def test_refusals_in_google_format(served: Served, vendor_upstream: VendorUpstream) -> None:
    bad = _client(served, "dg-not-a-key")
    with pytest.raises(errors.ClientError) as raised:
        bad.models.generate_content(model=MODEL, contents="hi")
    assert raised.value.code == 401 and raised.value.status == "UNAUTHENTICATED"

    url = f"{served.url}/gemini/v1beta/models/{MODEL}:embedContent"
    headers = {"x-goog-api-key": served.keys["gia"]}
    response = httpx.post(url, json={"content": {"parts": [{"text": "x"}]}}, headers=headers)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == 404 and error["status"] == "NOT_FOUND"
    assert "embedContent" in error["message"]
    assert vendor_upstream.requests == [], "nothing refused reaches the vendor"


def test_vendor_error_passes_through(served: Served, vendor_upstream: VendorUpstream) -> None:
    from tests.fakes import script

    vendor_upstream.enqueue(script.error(429, "Resource has been exhausted (e.g. check quota)."))
    client = _client(served, served.keys["gia"])
    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model=MODEL, contents="hi")
    assert raised.value.code == 429 and raised.value.status == "RESOURCE_EXHAUSTED"
    assert served.outputs(0, timeout=1) == []
