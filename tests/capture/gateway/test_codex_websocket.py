"""The real Codex CLI (0.169.0) through ``distillguard serve`` over the Responses WebSocket.

Codex opens a WebSocket to ``{base_url}/responses`` when its provider says
``supports_websockets = true`` (without it, a custom provider speaks HTTPS only), and falls back
to HTTPS when the handshake fails. Here the upstream must see WebSocket traffic only (no HTTPS
model call: no fallback), and the ledger must hold each answer as the HTTPS path records it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clis.gateway import UPSTREAM_KEYS, Served, serving
from tests.clis.harness import CODEX_MODEL, Clis, codex_config, codex_patch_turn, install_clis
from tests.fakes.openai_ws import WsVendorUpstream
from tests.fakes.script import Usage

CONTENT = "def clamp(x, lo, hi):\n    return max(lo, min(hi, x))\n"
USAGES = (
    Usage(input_tokens=900, output_tokens=120, cache_read_tokens=3000),
    Usage(input_tokens=60, output_tokens=12, cache_read_tokens=4100, reasoning_tokens=5),
)
KEY_ENV = "DISTILLGUARD_TEST_KEY"


@pytest.fixture(scope="module")
def clis() -> Clis:
    return install_clis()


@pytest.fixture
def upstream() -> Iterator[WsVendorUpstream]:
    with WsVendorUpstream() as started:
        yield started


@pytest.fixture
def gateway(upstream: WsVendorUpstream, tmp_path: Path) -> Iterator[Served]:
    with serving(tmp_path / "gateway", upstream.base_url) as served:
        yield served


def run_codex_ws(
    codex: Path, base_url: str, api_key: str, prompt: str, cwd: Path, home: Path
) -> subprocess.CompletedProcess[str]:
    """``codex exec PROMPT`` with a provider at ``base_url`` that allows WebSockets."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True)
    config = codex_config(base_url, KEY_ENV) + "supports_websockets = true\n"
    (codex_home / "config.toml").write_text(config)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "NO_COLOR": "1",
           "CODEX_HOME": str(codex_home), KEY_ENV: api_key}  # fmt: skip
    command = [str(codex), "exec", "--skip-git-repo-check", "--sandbox", "workspace-write"]
    return subprocess.run(
        [*command, prompt], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=180, check=False,
    )  # fmt: skip


def test_codex_over_websocket_through_the_gateway(
    clis: Clis, upstream: WsVendorUpstream, gateway: Served, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    turn = codex_patch_turn(work, "clamp.py", CONTENT, "Added clamp.py.", USAGES)
    upstream.enqueue(*turn.items, when=turn.when)

    done = run_codex_ws(
        clis.codex, gateway.endpoint("codex"), gateway.key, "Add clamp.py", work, tmp_path / "h"
    )

    described = f"exit {done.returncode}\n{done.stdout}\n{done.stderr}\n{gateway.process.output()}"
    assert done.returncode == 0, described
    assert done.stdout.strip() == turn.answer
    assert turn.file.read_text() == CONTENT
    assert "Falling back" not in done.stderr, described
    assert upstream.model_calls == [], "Codex fell back to HTTPS"
    assert upstream.handshakes, "the upstream saw no WebSocket"
    bearer = "Bearer " + UPSTREAM_KEYS["OPENAI_API_KEY"]
    assert all(h.header("authorization") == bearer for h in upstream.handshakes)
    assert not any(gateway.key in f"{m.headers}{m.body!r}" for m in upstream.ws_messages)
    answered = [m for m in upstream.ws_creates if m.json().get("generate") is not False]
    assert len(answered) == 2

    session = upstream.handshakes[-1].header("session-id") or ""
    outputs = gateway.outputs(turn.message_ids)
    assert len(outputs) == 2, gateway.process.output()
    patch, answer = outputs
    for line in CONTENT.splitlines():
        assert line in (patch.text or "")
    assert "Added clamp.py." in (answer.text or "")
    for output, usage in zip(outputs, USAGES, strict=True):
        assert (output.vendor, output.model, output.tool) == ("openai", CODEX_MODEL, "codex")
        assert (output.actor, output.team, output.session) == ("ana", "infra", session)
        assert output.input_tokens == usage.input_tokens
        assert output.output_tokens == usage.output_tokens
        assert (output.cache_read_tokens or 0) == usage.cache_read_tokens
        assert output.price_version == "test-prices-1"
