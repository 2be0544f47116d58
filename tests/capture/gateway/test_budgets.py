"""Budgets against a real ``distillguard serve``: calls in parallel, calls of unknown cost, and
spend across a restart while the database is down (the red-team cases of issue 11).

Every model call here answers with the same usage, so every admitted call costs ``CALL_USD``
(claude-sonnet-4-6 at the packaged prices): a budget holds when what the ledger recorded is at
most the budget plus one call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from benchmarks.gateway_bench import faults

from tests.capture.gateway.conftest import Served
from tests.fakes import script
from tests.fakes.script import Usage
from tests.fakes.vendors import VendorUpstream

USAGE = Usage(input_tokens=50, output_tokens=1000)
CALL_USD = (50 * 3.0 + 1000 * 15.0) / 1e6  # claude-sonnet-4-6: $3 / $15 per million
DEAREST_USD = (50 * 15.0 + 1000 * 75.0) / 1e6  # anthropic's dearest prices (claude-opus-4-1)
MakeGateway = Callable[..., Served]


def _serve(make: MakeGateway, upstream: VendorUpstream, extra: str, **kw: Any) -> Served:
    """A gateway whose config adds ``extra``; ``keys["cap"]`` is a key of team ``capped``."""
    served = make(upstream.base_url, start=False, **kw)
    with served.config.open("a") as fh:
        fh.write(extra)
    served.keys["cap"] = served.new_key("cap", "capped")
    served.start()
    return served


def _message(i: int = 0, model: str = "claude-sonnet-4-6") -> dict[str, Any]:
    content = [{"role": "user", "content": f"question {i}"}]
    return {"model": model, "max_tokens": 1000, "messages": content, "stream": i % 2 == 1}


def _ask(served: Served, body: dict[str, Any]) -> httpx.Response:
    headers = {"x-api-key": served.keys["cap"], "anthropic-version": "2023-06-01"}
    return httpx.post(served.url + "/anthropic/v1/messages", json=body, headers=headers, timeout=30)


def _chat(served: Served, include_usage: bool) -> httpx.Response:
    body: dict[str, Any] = {"model": "gpt-4o-mini", "max_completion_tokens": 1000, "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    headers = {"authorization": "Bearer " + served.keys["cap"]}
    return httpx.post(served.url + "/openai/v1/chat/completions", json=body, headers=headers)


async def _burst(served: Served, n: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    headers = {"x-api-key": served.keys["cap"], "anthropic-version": "2023-06-01"}
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:
        url = served.url + "/anthropic/v1/messages"
        calls = [client.post(url, json=_message(i)) for i in range(n)]
        return list(await asyncio.gather(*calls))


@pytest.mark.parametrize("parallel", [10, 40, 100])
def test_parallel_calls_overrun_a_budget_by_one_call_at_most(
    make_gateway: MakeGateway, parallel: int
) -> None:
    budget = 3.5 * CALL_USD
    reply = script.text("A short answer.", usage=USAGE, delay=0.3)
    with VendorUpstream(default=reply) as upstream:
        served = _serve(make_gateway, upstream, f"\n[teams.capped]\nbudget_usd = {budget}\n")
        responses = asyncio.run(_burst(served, parallel))
        statuses = [r.status_code for r in responses]
        admitted = statuses.count(200)
        assert admitted + statuses.count(429) == parallel, statuses
        outputs = served.outputs(admitted)
    assert all(out.cost_usd == pytest.approx(CALL_USD) for out in outputs)
    spent = sum(out.cost_usd or 0.0 for out in outputs)
    assert admitted >= 1 and spent <= budget + CALL_USD + 1e-9, (admitted, spent, budget)
    refused = next(r for r in responses if r.status_code == 429)
    assert "monthly budget of team capped is spent" in refused.json()["error"]["message"]


def test_calls_of_unknown_cost_count_against_the_budget(make_gateway: MakeGateway) -> None:
    """A model without a price counts at the vendor's dearest prices; a chat stream without
    usage counts its estimate. The ledger still says the cost is unknown."""
    extra = "\n[teams.capped]\nbudget_usd = 0.1\n"
    with VendorUpstream(default=script.text("ok", usage=USAGE)) as upstream:
        served = _serve(make_gateway, upstream, extra)
        statuses = [_ask(served, _message(i, "claude-unpriced-9")).status_code for i in range(4)]
        assert statuses == [200, 200, 429, 429]  # $0.076 each: the third finds $0.15 spent
        outputs = served.outputs(2)
        assert [out.cost_usd for out in outputs] == [None, None]
        assert sum(1 for out in outputs if out.model == "claude-unpriced-9") == 2

        chatty = _serve(make_gateway, upstream, "\n[teams.capped]\nbudget_usd = 0.0015\n")
        statuses = [_chat(chatty, include_usage=False).status_code for _ in range(6)]
        assert 200 in statuses and statuses[-1] == 429, statuses
        assert statuses.index(429) <= 3  # each counts its estimate (> $0.0006), never $0
        answered = chatty.outputs(statuses.count(200))  # the ledger: estimated, and says so
        assert all(out.usage_estimated and out.cost_usd for out in answered)


def test_calls_of_unknown_cost_are_refused_by_policy(make_gateway: MakeGateway) -> None:
    extra = '\n[teams.capped]\nbudget_usd = 1.0\nunpriced = "refuse"\n'
    with VendorUpstream(default=script.text("ok", usage=USAGE)) as upstream:
        served = _serve(make_gateway, upstream, extra)
        unpriced = _ask(served, _message(0, "claude-unpriced-9"))
        assert unpriced.status_code == 403
        message = unpriced.json()["error"]["message"]
        assert 'unpriced = "refuse"' in message and "claude-unpriced-9" in message
        no_usage = _chat(served, include_usage=False)
        assert no_usage.status_code == 403
        assert "stream_options.include_usage" in no_usage.json()["error"]["message"]
        assert _chat(served, include_usage=True).status_code == 200
        assert _ask(served, _message(0)).status_code == 200
        assert len(upstream.model_calls) == 2  # the refused calls never reached the vendor


@pytest.mark.postgres
def test_spend_survives_a_restart_while_the_database_is_down(
    make_gateway: MakeGateway, pg_url: str
) -> None:
    """Settled spend (in the database), spooled spend (not yet in it): both still count after
    the gateway is killed and restarted while the database is down."""
    proxy, db_url = faults.proxied_database(pg_url)
    extra = f"\n[teams.capped]\nbudget_usd = {2.5 * CALL_USD}\n"
    try:
        with VendorUpstream(default=script.text("ok", usage=USAGE)) as upstream:
            served = _serve(make_gateway, upstream, extra, db_url=db_url)
            assert _ask(served, _message(0)).status_code == 200
            served.outputs(1)  # settled: in the ledger
            proxy.stop()  # the database is down from here on
            assert _ask(served, _message(1)).status_code == 200  # spooled only
            assert served.process is not None
            served.process.kill()  # kill -9: nothing is saved on the way out
            served.process.wait()
            served.process = None
            served.start()
            assert _ask(served, _message(2)).status_code == 200  # 2 calls of 2.5 spent
            refused = _ask(served, _message(3))
            assert refused.status_code == 429, refused.text
            proxy.start()  # the database is back: the spool drains, the spend stays
            assert len(served.outputs(3, timeout=30)) == 3
            assert _ask(served, _message(4)).status_code == 429
    finally:
        proxy.destroy()
