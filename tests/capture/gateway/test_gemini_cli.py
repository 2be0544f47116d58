"""The real Gemini CLI through ``distillguard serve``.

The same scripted turn runs twice: straight at the fake Gemini upstream, then through the
gateway (a real subprocess with its own DISTILLGUARD_HOME and a key from ``keys create``, given
to the CLI as its ``GEMINI_API_KEY``). The CLI must behave the same (exit code, answer, file on
disk), the upstream must get the same requests apart from the credential (the vendor key in
``x-goog-api-key``, the client's nowhere), and the ledger must hold each answer with the written
code in its text, the tool, actor, team, usage and cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from distillguard.model import Output
from tests.clis.gateway import PRICES, UPSTREAM_KEYS, GatewayHome, Served, gateway_config
from tests.clis.gemini import (
    GEMINI_MODEL,
    gemini_binary,
    gemini_comparable,
    gemini_write_turn,
    run_gemini,
)
from tests.clis.harness import Clis, install_clis
from tests.fakes.script import Usage
from tests.fakes.vendors import VendorUpstream

VENDOR_KEY = "AIza-upstream-secret"
CONTENT = (
    "def moving_average(values, window):\n"
    "    total = sum(values[:window])\n"
    "    out = [total / window]\n"
    "    for i in range(window, len(values)):\n"
    "        total += values[i] - values[i - window]\n"
    "        out.append(total / window)\n"
    "    return out\n"
)
USAGES = (
    Usage(input_tokens=1200, output_tokens=310, cache_read_tokens=5000, reasoning_tokens=40),
    Usage(input_tokens=90, output_tokens=25, cache_read_tokens=6100),
)
PRICE = {"input": 1.25, "output": 10.0, "cache_read": 0.31}


@pytest.fixture(scope="module")
def clis() -> Clis:
    return install_clis()


@pytest.fixture
def upstream() -> Iterator[VendorUpstream]:
    with VendorUpstream() as started:
        yield started


@contextmanager
def serving_gemini(root: Path, upstream: str) -> Iterator[Served]:
    """``distillguard serve`` with a ``gemini`` upstream at ``upstream``, priced, and a key."""
    root.mkdir(parents=True, exist_ok=True)
    prices = root / "prices.toml"
    table = "".join(f"{name} = {value}\n" for name, value in PRICE.items())
    prices.write_text(f'{PRICES}\n[google."{GEMINI_MODEL}"]\n{table}')
    config = gateway_config(upstream, prices) + (
        f'\n[upstreams.gemini]\napi = "gemini"\nbase_url = "{upstream}"\n'
        'key_env = "GEMINI_API_KEY"\nvendor = "google"\n'
    )
    keys = {**UPSTREAM_KEYS, "GEMINI_API_KEY": VENDOR_KEY}
    setup = GatewayHome.create(root / "dg-home", config, keys)
    key = setup.create_key(actor="ana", team="infra", approved_by="lead")
    with setup.serve() as process:
        yield Served(process, key, setup.home)


@pytest.fixture
def gateway(upstream: VendorUpstream, tmp_path: Path) -> Iterator[Served]:
    with serving_gemini(tmp_path / "gateway", upstream.base_url) as served:
        yield served


def _cost(u: Usage) -> float:
    return (
        u.input_tokens * PRICE["input"]
        + u.cache_read_tokens * PRICE["cache_read"]
        + u.output_tokens * PRICE["output"]
    ) / 1e6


def _check(output: Output, usage: Usage) -> None:
    assert (output.vendor, output.model, output.upstream) == ("google", GEMINI_MODEL, "gemini")
    assert (output.actor, output.team, output.tool) == ("ana", "infra", "gemini-cli")
    assert output.input_tokens == usage.input_tokens  # the prompt less the cached tokens
    assert output.cache_read_tokens == usage.cache_read_tokens
    assert output.output_tokens == usage.output_tokens  # candidates + thoughts
    assert (output.reasoning_tokens or 0) == usage.reasoning_tokens
    assert output.cost_usd == pytest.approx(_cost(usage))
    assert output.price_version == "test-prices-1"


def test_gemini_cli_through_the_gateway(
    clis: Clis, upstream: VendorUpstream, gateway: Served, tmp_path: Path
) -> None:
    roots = (tmp_path / "direct", tmp_path / "served")  # as long as "direct"
    endpoints = [(upstream.base_url, "AIza-direct-key"),
                 (gateway.process.url("gemini"), gateway.key)]  # fmt: skip
    runs, splits = [], []
    for root, (base_url, key) in zip(roots, endpoints, strict=True):
        (root / "work").mkdir(parents=True)
        turn = gemini_write_turn(root / "work", "stats.py", CONTENT, "Wrote stats.py.", USAGES)
        upstream.enqueue(*turn.items, when=turn.when)
        splits.append(len(upstream.requests))
        home, cwd = root / "home", root / "work"
        run = run_gemini(gemini_binary(clis), base_url=base_url, api_key=key,
                         prompt="Write stats.py", cwd=cwd, home=home)  # fmt: skip
        runs.append(run)
        assert run.returncode == 0, run.describe()
        assert turn.file.read_text() == CONTENT
        assert run.stdout.strip().endswith("Wrote stats.py.")
    assert upstream.pending == 0
    assert runs[1].stdout == runs[0].stdout

    direct, through = upstream.requests[: splits[1]], upstream.requests[splits[1] :]
    assert [r.path for r in through] == [r.path for r in direct]
    assert all(r.query == "alt=sse" for r in through)
    for sent, forwarded in zip(direct, through, strict=True):
        assert gemini_comparable(forwarded, roots[1]) == gemini_comparable(sent, roots[0])
        assert forwarded.header("x-goog-api-key") == VENDOR_KEY
        assert gateway.key not in f"{forwarded.query}{forwarded.headers}{forwarded.body!r}"

    outputs = gateway.outputs(turn.message_ids)
    assert len(outputs) == 2, gateway.process.output()
    write, answer = outputs
    assert CONTENT in (write.text or "") and "Writing the file." in (write.text or "")
    assert str(turn.file) not in (write.text or ""), "a path is not model text"
    assert answer.text == "Wrote stats.py."
    assert "Successfully created and wrote to new file" in (answer.request or "")
    for output, usage in zip(outputs, USAGES, strict=True):
        _check(output, usage)
    assert runs[1].transcripts, "Gemini CLI keeps a transcript of the session"
