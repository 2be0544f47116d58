"""End to end: the official SDKs -> ``distillguard serve`` -> the scripted vendor upstream."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import anthropic
import httpx
import openai
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from distillguard.capture.wire import prices as pricing
from distillguard.ledger import Ledger
from distillguard.model import Usage as Tokens
from tests.capture.gateway.conftest import VENDOR_KEYS, Served
from tests.fakes import script
from tests.fakes.script import Reply, Text, Thinking, ToolCall, Usage
from tests.fakes.vendors import VendorUpstream

CODE = "def area(r):\n    return 3.14159 * r * r\n"
PATCH = "*** Begin Patch\n*** Add File: area.py\n+def area(r):\n+    return 3.14159 * r * r\n*** End Patch\n"  # noqa: E501
SESSION = "0f8fad5b-d9cb-469f-a165-70867728950e"
PRICES = pricing.load()


def _anthropic(gateway: Served, key: str | None = None, **headers: str) -> anthropic.Anthropic:
    return gateway.adopt(
        anthropic.Anthropic(
            base_url=gateway.url + "/anthropic",
            api_key=key or gateway.keys["ada"],
            max_retries=0,
            default_headers=headers,
        )
    )


def _openai(gateway: Served, key: str | None = None, upstream: str = "openai") -> openai.OpenAI:
    base = f"{gateway.url}/{upstream}/v1"
    client = openai.OpenAI(base_url=base, api_key=key or gateway.keys["ada"], max_retries=0)
    return gateway.adopt(client)


def _ask(client: anthropic.Anthropic, question: str) -> anthropic.types.Message:
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": question}]
    return client.messages.create(model="claude-sonnet-4-6", max_tokens=5, messages=messages)


def test_anthropic_stream_with_thinking_and_a_write(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    usage = Usage(input_tokens=30, output_tokens=80, cache_read_tokens=5000, cache_write_tokens=900)
    vendor_upstream.enqueue(
        Reply(
            blocks=(
                Thinking("Plan: write area.py"),
                Text("Writing it."),
                ToolCall("Write", {"file_path": "/w/area.py", "content": CODE}),
            ),
            usage=usage,
        )
    )
    client = _anthropic(
        gateway,
        **{
            "X-Claude-Code-Session-Id": SESSION,
            "User-Agent": "claude-cli/2.1.328 (external, sdk-cli)",
            "anthropic-beta": "claude-code-20250219,x-2025-01-01",
        },
    )
    messages = [{"role": "user", "content": "write area.py please"}]
    with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=1000,
        messages=messages,  # type: ignore[arg-type]
        system="You are a coding agent",
        extra_query={"beta": "true"},
    ) as stream:
        final = stream.get_final_message()
    tool = next(b for b in final.content if b.type == "tool_use")
    assert tool.input == {"file_path": "/w/area.py", "content": CODE}
    assert final.usage.output_tokens == 80 and final.usage.cache_read_input_tokens == 5000
    call = vendor_upstream.model_calls[-1]
    assert call.query == "beta=true"
    assert call.header("x-api-key") == VENDOR_KEYS["ANTHROPIC_API_KEY"]
    assert call.header("anthropic-beta") == "claude-code-20250219,x-2025-01-01"
    assert call.json()["system"] == "You are a coding agent"
    (out,) = gateway.outputs(1)
    assert out.message_id == final.id and out.vendor == "anthropic"
    assert out.text == f"Plan: write area.py\n\nWriting it.\n\n{CODE}"
    assert out.request == "write area.py please"
    assert (out.tool, out.session, out.actor, out.team) == ("claude-code", SESSION, "ada", "ml")
    assert (out.input_tokens, out.output_tokens) == (30, 80)
    assert (out.cache_read_tokens, out.cache_write_tokens) == (5000, 900)
    tokens = Tokens(input=30, output=80, cache_read=5000, cache_write=900)
    assert out.cost_usd == pytest.approx(PRICES.cost("anthropic", final.model, tokens))
    assert out.price_version == PRICES.version and out.upstream == "anthropic"


def test_anthropic_plain_and_edit_quotes_go_to_the_request(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    edit = {"file_path": "/w/a.py", "old_string": "x = compute_old()", "new_string": "x = 42"}
    vendor_upstream.enqueue(script.tool_call("Edit", edit, say="Fixing."))
    history = [
        {"role": "user", "content": "fix a.py"},
        {"role": "assistant", "content": "Let me read it."},
        {"role": "user", "content": [{"type": "text", "text": "here: x = compute_old()"}]},
    ]
    message = _anthropic(gateway).messages.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        messages=history,  # type: ignore[arg-type]
    )
    assert message.content[1].type == "tool_use"
    (out,) = gateway.outputs(1)
    assert out.text == "Fixing.\n\nx = 42"
    assert out.request == "here: x = compute_old()\n\nx = compute_old()"
    assert out.tool == "sdk" and out.message_id == message.id


@pytest.mark.parametrize("stream", [True, False])
def test_clients_get_exactly_the_upstream_bytes(
    gateway: Served, vendor_upstream: VendorUpstream, stream: bool
) -> None:
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 10,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    reply = script.thinking("hmm", "Hello there, " * 50, id="msg_fixed")
    got = {}
    for name, url, key in (
        ("direct", vendor_upstream.base_url, "k"),
        ("gateway", gateway.url + "/anthropic", gateway.keys["ada"]),
    ):
        vendor_upstream.enqueue(reply)
        response = httpx.post(url + "/v1/messages", json=body, headers={"x-api-key": key})
        got[name] = response
    assert got["gateway"].status_code == got["direct"].status_code == 200
    assert got["gateway"].content == got["direct"].content
    skip = {"request-id", "date", "server"}
    assert [(k, v) for k, v in got["gateway"].headers.items() if k not in skip] == [
        (k, v) for k, v in got["direct"].headers.items() if k not in skip
    ]
    (out,) = gateway.outputs(1)
    assert out.message_id == "msg_fixed" and out.text == "hmm\n\n" + "Hello there, " * 50


def test_openai_chat_stream_with_usage_and_tool_call(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    vendor_upstream.enqueue(
        script.tool_call(
            "write_file",
            {"path": "area.py", "text": CODE},
            usage=Usage(input_tokens=2000, output_tokens=40, cache_read_tokens=1024),
        )
    )
    stream = _openai(gateway).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "write it"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    args = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""  # type: ignore[index, union-attr]
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert json.loads(args) == {"path": "area.py", "text": CODE}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 40
    assert vendor_upstream.model_calls[-1].json()["stream_options"] == {"include_usage": True}
    assert vendor_upstream.model_calls[-1].header("authorization") == "Bearer sk-openai-secret"
    (out,) = gateway.outputs(1)
    assert out.text == f"area.py\n\n{CODE}" and out.message_id == chunks[0].id
    assert (out.input_tokens, out.cache_read_tokens, out.output_tokens) == (2000, 1024, 40)
    assert out.cost_usd == pytest.approx((2000 * 2.5 + 1024 * 1.25 + 40 * 10) / 1e6)


def test_chat_without_include_usage_is_not_changed(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    completion = _openai(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in completion if c.choices)
    assert "stream_options" not in vendor_upstream.model_calls[-1].json()
    (out,) = gateway.outputs(1)  # no usage came: estimated from the text, and flagged
    assert out.usage_estimated and out.output_tokens == -(-len(out.text.encode()) // 4)


def test_responses_stream_with_apply_patch_like_codex(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    vendor_upstream.enqueue(
        Reply(
            blocks=(Thinking("**Adding area**"), ToolCall("apply_patch", PATCH)),
            usage=Usage(
                input_tokens=9000, output_tokens=300, cache_read_tokens=8000, reasoning_tokens=64
            ),
        )
    )
    client = _openai(gateway)
    headers = {"session-id": SESSION, "User-Agent": "codex_exec/0.169.0 (Linux; x86_64)"}
    items = [
        {"type": "message", "role": "developer", "content": "rules"},
        {"type": "message", "role": "user", "content": "add area.py"},
    ]
    with client.responses.stream(model="gpt-5", input=items, extra_headers=headers) as stream:  # type: ignore[arg-type]
        final = stream.get_final_response()
    call = next(item for item in final.output if item.type == "custom_tool_call")
    assert call.input == PATCH  # type: ignore[union-attr]
    (out,) = gateway.outputs(1)
    assert out.text == "**Adding area**\n\ndef area(r):\n    return 3.14159 * r * r\n"
    assert out.request == "add area.py"
    assert (out.tool, out.session, out.message_id) == ("codex", SESSION, final.id)
    assert (out.input_tokens, out.cache_read_tokens, out.reasoning_tokens) == (9000, 8000, 64)


def test_responses_plain_and_internal_upstream(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    response = _openai(gateway, upstream="metacode").responses.create(model="meta-7b", input="hi")
    assert response.output_text
    assert vendor_upstream.model_calls[-1].header("authorization") is None  # no key_env
    (out,) = gateway.outputs(1)
    assert (out.vendor, out.upstream, out.cost_usd) == ("metacode", "metacode", None)
    report = json.loads(gateway.cli("usage", "--by", "vendor", "--json").stdout)
    assert report["internal_share"]["tokens"] == 1.0 and report["unpriced_outputs"] == 1


def test_vendor_errors_pass_through_and_record_nothing(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    vendor_upstream.enqueue(script.error(529, "Overloaded", type="overloaded_error"))
    with pytest.raises(anthropic.APIStatusError) as info:
        _ask(_anthropic(gateway), "x")
    assert info.value.status_code == 529 and "Overloaded" in str(info.value)
    vendor_upstream.enqueue(script.error(400, "bad tool schema"))
    with pytest.raises(openai.BadRequestError, match="bad tool schema"):
        _openai(gateway).responses.create(model="gpt-5", input="x")
    vendor_upstream.enqueue(script.text("ok"))
    _openai(gateway).responses.create(model="gpt-5", input="x")
    assert len(gateway.outputs(1)) == 1


def test_other_endpoints_pass_through(gateway: Served, vendor_upstream: VendorUpstream) -> None:
    count = _anthropic(gateway).messages.count_tokens(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hello"}]
    )
    assert count.input_tokens > 0
    assert [m.id for m in _openai(gateway).models.list()]
    assert vendor_upstream.requests[-1].path == "/v1/models"


def test_refusals_come_in_the_vendors_formats(gateway: Served) -> None:
    msg = [{"role": "user", "content": "x"}]
    with pytest.raises(anthropic.AuthenticationError) as auth:
        _anthropic(gateway, key="dg-forged").messages.create(model="m", max_tokens=1, messages=msg)  # type: ignore[arg-type]
    assert auth.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid distillguard key"},
    }
    with pytest.raises(openai.AuthenticationError) as auth_o:
        _openai(gateway, key="dg-forged").chat.completions.create(model="gpt-4o", messages=msg)  # type: ignore[arg-type]
    assert auth_o.value.code == "invalid_api_key"
    web = gateway.new_key("bob", "web")
    with pytest.raises(anthropic.PermissionDeniedError, match="may not use vendor anthropic"):
        _anthropic(gateway, key=web).messages.create(model="m", max_tokens=1, messages=msg)  # type: ignore[arg-type]
    with pytest.raises(openai.PermissionDeniedError, match="may not use model gpt-5"):
        _openai(gateway, key=web).responses.create(model="gpt-5", input="x")
    assert _openai(gateway, key=web).responses.create(model="gpt-4o-mini", input="x").id
    revoked = gateway.new_key("eve", "ml")
    key_id = json.loads(gateway.cli("keys", "list", "--json").stdout.splitlines()[-1])["id"]
    assert gateway.cli("keys", "revoke", key_id).stdout.strip() == f"revoked {key_id}"
    gateway.stop()
    gateway.start()  # keys are reloaded every 5 s; a restart is quicker for the test
    with pytest.raises(anthropic.AuthenticationError, match="revoked"):
        _anthropic(gateway, key=revoked).messages.create(model="m", max_tokens=1, messages=msg)  # type: ignore[arg-type]


def test_budget_spent_is_refused(gateway: Served) -> None:
    broke = gateway.new_key("carl", "broke")
    gateway.stop()
    gateway.start()
    client = _anthropic(gateway, key=broke)
    msg = [{"role": "user", "content": "x"}]
    client.messages.create(model="claude-sonnet-4-6", max_tokens=5, messages=msg)  # type: ignore[arg-type]
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model="claude-sonnet-4-6", max_tokens=5, messages=msg)  # type: ignore[arg-type]
    assert info.value.response.headers["x-should-retry"] == "false"
    assert re.search(r"monthly budget of team broke is spent: \$0\.00", str(info.value))
    with pytest.raises(openai.RateLimitError) as info_o:
        _openai(gateway, key=broke).responses.create(model="gpt-5", input="x")
    assert info_o.value.code == "insufficient_quota"


def test_unreachable_upstream_is_a_502_in_the_vendor_format(gateway: Served) -> None:
    client = gateway.adopt(
        anthropic.Anthropic(base_url=gateway.url + "/down", api_key=gateway.keys["ada"])
    )
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 502
    assert info.value.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_unknown_upstream_and_health(gateway: Served) -> None:
    response = httpx.post(gateway.url + "/nope/v1/chat/completions", json={})
    assert (
        response.status_code == 404 and response.json()["error"]["type"] == "invalid_request_error"
    )
    assert httpx.get(gateway.url + "/healthz").json()["ok"] is True
    metrics = httpx.get(gateway.url + "/metrics").text
    assert "distillguard_spool_depth" in metrics


def test_outputs_of_a_restarted_gateway_reach_the_ledger(
    make_gateway: Callable[..., Served], vendor_upstream: VendorUpstream
) -> None:
    served = make_gateway(vendor_upstream.base_url)
    served.stop()
    served.start()
    for i in range(3):
        vendor_upstream.enqueue(script.text(f"answer {i}"))
        _ask(_anthropic(served), f"q{i}")
    outs = served.outputs(3)
    assert sorted(o.text or "" for o in outs) == ["answer 0", "answer 1", "answer 2"]


@pytest.mark.postgres
def test_database_down_while_serving_then_back(
    make_gateway: Callable[..., Served],
    vendor_upstream: VendorUpstream,
    pg_url: str,
    pg_admin: Engine,
) -> None:
    served = make_gateway(vendor_upstream.base_url, db_url=pg_url)
    client = _anthropic(served)
    _ask(client, "before")
    served.outputs(1)
    name = make_url(pg_url).database
    with pg_admin.connect() as conn:  # the database goes away: no new connections, old ones cut
        conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
    try:
        answers = [_ask(client, f"during {i}").id for i in range(5)]  # still served
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            health = httpx.get(served.url + "/healthz").json()
            if health["ledger_error"] and health["spooled"] == 5:
                break
            time.sleep(0.1)
        assert health["spooled"] == 5 and "cannot" in health["ledger_error"]
    finally:
        with pg_admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
    outs = served.outputs(6, timeout=40)  # the writer retries with backoff (at most 30 s)
    assert {o.message_id for o in outs} >= set(answers)
    with Ledger(pg_url) as ledger:
        assert ledger.verify().ok
