"""A Chat Completions stream without usage, through the real gateway with the official SDK:
recorded with usage estimated from the text (UTF-8 bytes / 4) and flagged; ``usage`` marks it."""

from __future__ import annotations

import json
from typing import Any

import openai
import orjson
import pytest

from distillguard.capture.wire import prices as pricing
from tests.capture.gateway.conftest import Served
from tests.fakes import script
from tests.fakes.script import Usage
from tests.fakes.vendors import VendorUpstream

ANSWER = "def area(r):\n    return 3.14159 * r * r  # π r²\n"
MESSAGES: list[Any] = [{"role": "user", "content": "write area()"}]


def _client(gateway: Served) -> openai.OpenAI:
    base = f"{gateway.url}/openai/v1"
    return gateway.adopt(openai.OpenAI(base_url=base, api_key=gateway.keys["ada"], max_retries=0))


def test_a_stream_without_usage_is_estimated_and_flagged(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    vendor_upstream.enqueue(script.text(ANSWER, usage=Usage(input_tokens=30, output_tokens=20)))
    stream = _client(gateway).chat.completions.create(
        model="gpt-5.4",
        messages=MESSAGES,
        stream=True,
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert all(c.usage is None for c in chunks)  # the vendor sent none: nothing to record
    sent = vendor_upstream.model_calls[-1].json()
    (out,) = gateway.outputs(1)
    assert out.usage_estimated and not out.unparsed
    assert out.output_tokens == -(-len(ANSWER.encode()) // 4)
    assert out.input_tokens == -(-len(orjson.dumps(sent)) // 4)
    price = pricing.load().price("openai", "gpt-5.4")
    assert price is not None
    expected = (out.input_tokens * price.input + out.output_tokens * price.output) / 1e6
    assert out.cost_usd == pytest.approx(expected)
    report = json.loads(gateway.cli("usage", "--by", "model", "--json").stdout)
    assert report["estimated_outputs"] == 1
    assert report["estimated_tokens"] == out.input_tokens + out.output_tokens


def test_a_stream_with_usage_is_not_estimated(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    vendor_upstream.enqueue(script.text(ANSWER, usage=Usage(input_tokens=30, output_tokens=20)))
    stream = _client(gateway).chat.completions.create(
        model="gpt-5.4",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert list(stream)[-1].usage is not None
    (out,) = gateway.outputs(1)
    assert not out.usage_estimated and (out.input_tokens, out.output_tokens) == (30, 20)
    report = json.loads(gateway.cli("usage", "--json").stdout)
    assert report["estimated_outputs"] == 0
