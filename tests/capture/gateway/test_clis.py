"""The real Claude Code and Codex CLIs through ``distillguard serve``.

Each test runs the same scripted turn twice: straight at the fake upstream, then through the
gateway (a real subprocess with its own DISTILLGUARD_HOME and a key from ``keys create``). The
CLI must behave the same (exit code, answer, file on disk), the upstream must get the same
requests apart from the credential, and the ledger must hold each answer with the written
code in its text, the session, tool, actor, team, usage and cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from distillguard.model import Output
from tests.clis.gateway import UPSTREAM_KEYS, Served, serving
from tests.clis.harness import (
    CLAUDE_MODEL,
    CODEX_MODEL,
    CliRun,
    Clis,
    Turn,
    claude_write_turn,
    codex_patch_turn,
    comparable,
    install_clis,
    run_claude,
    run_codex,
)
from tests.fakes.script import Usage
from tests.fakes.vendors import VendorUpstream

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
    Usage(input_tokens=1200, output_tokens=310, cache_read_tokens=5000, cache_write_tokens=700),
    Usage(input_tokens=90, output_tokens=25, cache_read_tokens=6100, reasoning_tokens=11),
)


@pytest.fixture(scope="module")
def clis() -> Clis:
    return install_clis()


@pytest.fixture
def upstream() -> Iterator[VendorUpstream]:
    with VendorUpstream() as started:
        yield started


@pytest.fixture
def gateway(upstream: VendorUpstream, tmp_path: Path) -> Iterator[Served]:
    """``distillguard serve`` with both upstreams at the fake, a price table, and a key."""
    with serving(tmp_path / "gateway", upstream.base_url) as served:
        yield served


def _same_behaviour(direct: CliRun, through: CliRun, turns: tuple[Turn, Turn]) -> None:
    assert direct.returncode == 0, direct.describe()
    assert through.returncode == direct.returncode, through.describe()
    assert through.stdout.strip() == direct.stdout.strip() == turns[1].answer
    assert turns[1].file.read_text() == turns[0].file.read_text() == CONTENT


def _same_requests(
    upstream: VendorUpstream,
    split: int,
    roots: tuple[Path, Path],
    credential: tuple[str, str],
    gateway_key: str,
) -> None:
    """The gateway forwarded what the CLI sent, with the vendor key instead of the gateway's."""
    direct, through = upstream.requests[:split], upstream.requests[split:]
    assert len(through) == len(direct)
    for sent, forwarded in zip(direct, through, strict=True):
        expected, got = comparable(sent, roots[0]), comparable(forwarded, roots[1])
        assert got["request"] == expected["request"]
        # the one header the gateway may change: it drops encodings it cannot decode (br)
        offered = _encodings(expected["headers"].pop("accept-encoding", ""))
        assert _encodings(got["headers"].pop("accept-encoding", "")) <= offered
        assert got["headers"] == expected["headers"]
        assert got["body"] == expected["body"]
    header, value = credential
    assert all(r.header(header) == value for r in through)
    assert not any(gateway_key in f"{r.headers}{r.body!r}" for r in through)


def _encodings(header: str) -> set[str]:
    return {part.strip() for part in header.split(",") if part.strip()}


def _anthropic_cost(u: Usage) -> float:
    return (
        u.input_tokens * 3.0
        + u.output_tokens * 15.0
        + u.cache_read_tokens * 0.3
        + u.cache_write_tokens * 3.75
    ) / 1e6


def _openai_cost(u: Usage) -> float:
    return (u.input_tokens * 1.25 + u.cache_read_tokens * 0.125 + u.output_tokens * 10.0) / 1e6


def _check_usage(output: Output, usage: Usage, cost: float) -> None:
    assert output.input_tokens == usage.input_tokens  # uncached input only
    assert output.output_tokens == usage.output_tokens
    assert (output.cache_read_tokens or 0) == usage.cache_read_tokens
    assert (output.cache_write_tokens or 0) == usage.cache_write_tokens
    assert output.cost_usd == pytest.approx(cost)
    assert output.price_version == "test-prices-1"


def _check_attribution(output: Output, vendor: str, model: str, session: str) -> None:
    assert (output.vendor, output.model, output.upstream) == (vendor, model, vendor)
    assert (output.actor, output.team) == ("ana", "infra")
    assert output.session == session
    assert output.key_id is not None


def _run_twice(
    run_cli: Callable[..., CliRun],
    upstream: VendorUpstream,
    turns: tuple[Turn, Turn],
    endpoints: list[tuple[str, str]],
    roots: tuple[Path, Path],
    prompt: str,
) -> tuple[list[CliRun], int]:
    """Run the CLI once per (turn, endpoint, root); returns the runs and the index of the
    first request of the second run."""
    runs, split = [], 0
    for root, turn, (base_url, key) in zip(roots, turns, endpoints, strict=True):
        (root / "work").mkdir(parents=True)
        upstream.enqueue(*turn.items, when=turn.when)
        split = len(upstream.requests)
        runs.append(
            run_cli(
                base_url=base_url,
                api_key=key,
                prompt=prompt,
                cwd=root / "work",
                home=root / "home",
            )
        )
    return runs, split


def test_claude_code_through_the_gateway(
    clis: Clis, upstream: VendorUpstream, gateway: Served, tmp_path: Path
) -> None:
    roots = (tmp_path / "direct", tmp_path / "served")  # as long as "direct"
    turns = (
        claude_write_turn(roots[0] / "work", "stats.py", CONTENT, "Wrote stats.py.", USAGES),
        claude_write_turn(roots[1] / "work", "stats.py", CONTENT, "Wrote stats.py.", USAGES),
    )
    endpoints = [
        (upstream.base_url, "sk-ant-direct"),
        (gateway.endpoint("claude"), gateway.key),
    ]
    run = partial(run_claude, clis.claude)
    runs, split = _run_twice(run, upstream, turns, endpoints, roots, "Write stats.py")

    _same_behaviour(runs[0], runs[1], turns)
    vendor_key = ("x-api-key", UPSTREAM_KEYS["ANTHROPIC_API_KEY"])
    _same_requests(upstream, split, roots, vendor_key, gateway.key)

    session = upstream.requests[-1].header("x-claude-code-session-id") or ""
    assert runs[1].transcripts[0].stem == session
    outputs = gateway.outputs(turns[1].message_ids)
    assert len(outputs) == 2, gateway.process.output()
    write, answer = outputs
    assert CONTENT in (write.text or "")
    assert "Wrote stats.py." in (answer.text or "")
    for output, usage in zip(outputs, USAGES, strict=True):
        _check_attribution(output, "anthropic", CLAUDE_MODEL, session)
        assert output.tool == "claude-code"
        _check_usage(output, usage, _anthropic_cost(usage))


def test_codex_through_the_gateway(
    clis: Clis, upstream: VendorUpstream, gateway: Served, tmp_path: Path
) -> None:
    roots = (tmp_path / "direct", tmp_path / "served")  # as long as "direct"
    turns = (
        codex_patch_turn(roots[0] / "work", "stats.py", CONTENT, "Added stats.py.", USAGES),
        codex_patch_turn(roots[1] / "work", "stats.py", CONTENT, "Added stats.py.", USAGES),
    )
    endpoints = [
        (upstream.base_url + "/v1", "sk-openai-direct"),
        (gateway.endpoint("codex"), gateway.key),
    ]
    run = partial(run_codex, clis.codex)
    runs, split = _run_twice(run, upstream, turns, endpoints, roots, "Add stats.py")

    _same_behaviour(runs[0], runs[1], turns)
    bearer = "Bearer " + UPSTREAM_KEYS["OPENAI_API_KEY"]
    _same_requests(upstream, split, roots, ("authorization", bearer), gateway.key)

    session = upstream.requests[-1].header("session-id") or ""
    assert runs[1].transcripts[0].name.endswith(f"-{session}.jsonl")
    outputs = gateway.outputs(turns[1].message_ids)
    assert len(outputs) == 2, gateway.process.output()
    patch, answer = outputs
    for line in CONTENT.splitlines():
        assert line in (patch.text or "")
    assert "Added stats.py." in (answer.text or "")
    for output, usage in zip(outputs, USAGES, strict=True):
        _check_attribution(output, "openai", CODEX_MODEL, session)
        assert output.tool == "codex"
        assert (output.reasoning_tokens or 0) == usage.reasoning_tokens
        reported = replace(usage, cache_write_tokens=0)  # OpenAI reports no cache writes
        _check_usage(output, reported, _openai_cost(reported))
