"""The real CLIs through ``distillguard serve`` when things go wrong.

A vendor error, a stream that breaks off or ends in an error event: the CLI must do exactly
what it does against the vendor directly (same exit code, same output, same retries reaching
the upstream). A gateway refusal (a vendor the team may not use, a spent budget) must reach
the user as the CLI shows the vendor's own errors, and nothing reaches the upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clis.gateway import Served, serving
from tests.clis.harness import (
    CliRun,
    Clis,
    comparable,
    direct_endpoint,
    install_clis,
    is_claude_turn,
    is_codex_turn,
    run_cli,
)
from tests.fakes import script
from tests.fakes.script import Item
from tests.fakes.vendors import Matcher, Request, VendorUpstream

CLIS = ("claude", "codex")
VENDOR = {"claude": "anthropic", "codex": "openai"}


@pytest.fixture(scope="module")
def clis() -> Clis:
    return install_clis()


@pytest.fixture(scope="module")
def upstream() -> Iterator[VendorUpstream]:
    """One upstream for the module (tests look only at the requests they caused)."""
    with VendorUpstream() as started:
        yield started


@pytest.fixture(scope="module")
def gateway(upstream: VendorUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("gateway"), upstream.base_url) as served:
        yield served


@pytest.fixture(scope="module")
def denying(upstream: VendorUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A gateway whose team ``infra`` may use only the vendor ``metacode``."""
    team = '\n[teams.infra]\nvendors = ["metacode"]\n'
    with serving(tmp_path_factory.mktemp("denying"), upstream.base_url, team) as served:
        yield served


def _when(cli: str) -> Matcher:
    return is_claude_turn if cli == "claude" else is_codex_turn


def _shown(run: CliRun, cli: str) -> str:
    """What the CLI told the user: Claude Code's stdout, Codex's ERROR lines and last message."""
    if cli == "claude":
        return run.stdout.strip()
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR:")]
    return "\n".join([*errors, run.stdout.strip()])


def _both_ways(
    cli: str, clis: Clis, upstream: VendorUpstream, gateway: Served, root: Path, items: list[Item]
) -> tuple[CliRun, CliRun, list[Request], list[Request]]:
    """The same scripted replies, once straight at the upstream and once through the gateway;
    returns both runs and the requests each caused."""
    assert upstream.pending == 0
    start = len(upstream.requests)
    upstream.enqueue(*items, when=_when(cli))
    direct = run_cli(
        clis,
        cli,
        base_url=direct_endpoint(upstream.base_url, cli),
        api_key="sk-direct",
        prompt="hi",
        root=root / "direct",
    )
    assert upstream.pending == 0
    split = len(upstream.requests)
    upstream.enqueue(*items, when=_when(cli))
    through = run_cli(
        clis,
        cli,
        base_url=gateway.endpoint(cli),
        api_key=gateway.key,
        prompt="hi",
        root=root / "served",  # as long as "direct": Claude Code's token estimates match
    )
    assert upstream.pending == 0
    calls = upstream.requests
    return direct, through, calls[start:split], calls[split:]


def _same_calls(direct: list[Request], through: list[Request], root: Path) -> None:
    assert [comparable(r, root / "served")["body"] for r in through] == [
        comparable(r, root / "direct")["body"] for r in direct
    ]


def _recovered(text: str) -> script.Reply:
    return script.text(text, id=script.new_id("msg"))


FAILURES = {
    "error-400": lambda: [script.error(400, "prompt is too long: 250000 tokens > 200000 maximum")],
    "cut-stream": lambda: [
        script.text("This answer is cut off before it ends.", cut_after=6),
        _recovered("Recovered after the cut."),
    ],
    "error-mid-stream": lambda: [
        script.error(500, "Internal server error", mid_stream=True),
        _recovered("Recovered after the error event."),
    ],
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("cli", CLIS)
def test_vendor_failures_look_the_same(
    cli: str,
    failure: str,
    clis: Clis,
    upstream: VendorUpstream,
    gateway: Served,
    tmp_path: Path,
) -> None:
    items = FAILURES[failure]()
    direct, through, sent, forwarded = _both_ways(cli, clis, upstream, gateway, tmp_path, items)
    assert through.returncode == direct.returncode, through.describe()
    assert _shown(through, cli) == _shown(direct, cli)
    _same_calls(sent, forwarded, tmp_path)
    recovered = [i for i in items if isinstance(i, script.Reply) and i.id]
    if recovered:
        assert direct.returncode == 0 and direct.stdout.strip() == recovered[0].blocks[0].text
        (output,) = gateway.outputs((recovered[0].id or "",))
        assert output.text == recovered[0].blocks[0].text
    else:
        assert direct.returncode == 1


@pytest.mark.parametrize("cli", CLIS)
def test_a_vendor_the_team_may_not_use(
    cli: str, clis: Clis, upstream: VendorUpstream, denying: Served, tmp_path: Path
) -> None:
    start = len(upstream.requests)
    run = run_cli(
        clis,
        cli,
        base_url=denying.endpoint(cli),
        api_key=denying.key,
        prompt="hi",
        root=tmp_path / "run",
    )
    assert run.returncode == 1, run.describe()
    shown = _shown(run, cli)
    assert "403" in shown and "infra" in shown and VENDOR[cli] in shown
    assert len(upstream.requests) == start


@pytest.mark.parametrize("cli", CLIS)
def test_a_spent_budget(cli: str, clis: Clis, upstream: VendorUpstream, tmp_path: Path) -> None:
    start = len(upstream.requests)
    team = "\n[teams.infra]\nbudget_usd = 0.00001\n"
    with serving(tmp_path / "gateway", upstream.base_url, team) as gateway:
        runs = [
            run_cli(
                clis,
                cli,
                base_url=gateway.endpoint(cli),
                api_key=gateway.key,
                prompt="hi",
                root=tmp_path / name,
            )
            for name in ("first", "second")
        ]
    assert runs[0].returncode == 0, runs[0].describe()
    assert runs[1].returncode == 1, runs[1].describe()
    shown = _shown(runs[1], cli)
    if cli == "claude":  # the gateway's message, at once (x-should-retry: false)
        assert "429" in shown and "budget" in shown
    else:  # Codex shows its own text for OpenAI's insufficient_quota code
        assert "Quota exceeded" in shown
    assert len(upstream.requests) == start + 1  # only the first run's call
