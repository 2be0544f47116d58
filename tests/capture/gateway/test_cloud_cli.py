# ruff: noqa: F811  (pytest fixtures imported from tests.capture.gateway.cloud)
"""The real Claude Code (pinned) in Vertex mode and in Bedrock mode through ``distillguard
serve``: the engineer's distillguard key goes in ``ANTHROPIC_AUTH_TOKEN`` (sent as
``Authorization: Bearer``; the ``SKIP_*_AUTH`` switches stop Claude Code signing itself), the
gateway signs upstream, and both answers of a Write turn are recorded with the written code."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.capture.gateway.cloud import bedrock, serve_cloud, vertex  # noqa: F401
from tests.capture.gateway.conftest import Served
from tests.clis.harness import CliRun, Clis, install_clis
from tests.fakes.bedrock_api import BedrockUpstream
from tests.fakes.cloud import CloudUpstream
from tests.fakes.script import Reply, Text, ToolCall, Usage, new_id
from tests.fakes.vendors import Request
from tests.fakes.vertex_api import VertexUpstream

CONTENT = "def clamp(x, lo, hi):\n    return max(lo, min(hi, x))\n"
ANSWER = "Wrote clamp.py."
MODELS = {"vertex": "claude-sonnet-4-5@20250929",
          "bedrock": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}  # fmt: skip
USAGE = Usage(input_tokens=300, output_tokens=80, cache_read_tokens=4000, cache_write_tokens=200)


@pytest.fixture(scope="module")
def clis() -> Clis:
    return install_clis()


def cloud_env(mode: str, gateway: Served, key: str) -> dict[str, str]:
    """What an engineer sets to use Claude Code on ``mode`` through the gateway."""
    if mode == "vertex":
        return {"CLAUDE_CODE_USE_VERTEX": "1", "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1",
                "ANTHROPIC_VERTEX_BASE_URL": gateway.url + "/vertex/v1",
                "ANTHROPIC_VERTEX_PROJECT_ID": "proj-1", "CLOUD_ML_REGION": "us-east5",
                "ANTHROPIC_AUTH_TOKEN": key}  # fmt: skip
    return {"CLAUDE_CODE_USE_BEDROCK": "1", "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
            "ANTHROPIC_BEDROCK_BASE_URL": gateway.url + "/bedrock", "AWS_REGION": "us-east-1",
            "ANTHROPIC_AUTH_TOKEN": key}  # fmt: skip


def run_claude(claude: Path, env: dict[str, str], model: str, root: Path) -> CliRun:
    home, cwd = root / "home", root / "work"
    cwd.mkdir(parents=True)
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "LANG": "C.UTF-8", "NO_COLOR": "1", "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"), "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}  # fmt: skip
    command = [str(claude), "-p", "Write clamp.py", "--model", model,
               "--permission-mode", "acceptEdits", "--output-format", "text"]  # fmt: skip
    done = subprocess.run(command, cwd=cwd, env=base | env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    found = tuple(sorted((home / ".claude" / "projects").glob("**/*.jsonl")))
    return CliRun(done.returncode, done.stdout, done.stderr, home, found)


def offers_tools(request: Request) -> bool:
    body = request.json()
    return isinstance(body, dict) and bool(body.get("tools"))


def queue_write_turn(up: CloudUpstream, path: Path) -> tuple[str, str]:
    ids = (new_id("msg"), new_id("msg"))
    write = ToolCall("Write", {"file_path": str(path), "content": CONTENT})
    first = Reply(blocks=(Text("Writing."), write), id=ids[0], usage=USAGE)
    up.enqueue(first, Reply(blocks=(Text(ANSWER),), id=ids[1], usage=USAGE), when=offers_tools)
    return ids


@pytest.mark.parametrize("mode", ["vertex", "bedrock"])
def test_claude_code_on_a_cloud_through_the_gateway(
    mode: str,
    clis: Clis,
    serve_cloud: Callable[..., Served],
    vertex: VertexUpstream,
    bedrock: BedrockUpstream,
    tmp_path: Path,
) -> None:
    gateway = serve_cloud()
    key = gateway.keys["ada"]
    up: VertexUpstream | BedrockUpstream = vertex if mode == "vertex" else bedrock
    ids = queue_write_turn(up, tmp_path / "run" / "work" / "clamp.py")
    run = run_claude(clis.claude, cloud_env(mode, gateway, key), MODELS[mode], tmp_path / "run")

    assert run.returncode == 0, run.describe() + gateway_log(gateway)
    assert ANSWER in run.stdout
    assert (tmp_path / "run" / "work" / "clamp.py").read_text() == CONTENT
    calls = up.model_calls
    assert len(calls) >= 2 and up.pending == 0
    for call in calls:  # signed by the gateway (the fakes refuse anything else)
        assert key not in f"{call.headers}{call.body!r}"
    if mode == "bedrock":  # the model id as Claude Code sent it (':' raw), signed as sent
        assert calls[0].raw_path == f"/model/{MODELS[mode]}/invoke-with-response-stream"
    else:
        tokens = {f"Bearer {token}" for token in vertex.issued}
        assert all(c.header("authorization") in tokens for c in calls)

    session = calls[-1].header("x-claude-code-session-id")
    outputs = {o.message_id: o for o in gateway.outputs(len(calls))}
    write, answer = outputs[ids[0]], outputs[ids[1]]
    assert CONTENT in (write.text or "") and ANSWER in (answer.text or "")
    for output in (write, answer):
        assert (output.vendor, output.upstream, output.tool) == ("anthropic", mode, "claude-code")
        assert output.model == "claude-sonnet-4-5-20250929"
        assert (output.actor, output.team, output.session) == ("ada", "ml", session)
        assert (output.input_tokens, output.output_tokens) == (300, 80)
        assert (output.cache_read_tokens, output.cache_write_tokens) == (4000, 200)
        assert output.cost_usd is not None


def gateway_log(gateway: Served) -> str:
    log = gateway.home / "serve.log"
    return "\n--- serve.log\n" + (log.read_text() if log.exists() else "")
