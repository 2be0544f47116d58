"""Run the real Claude Code and Codex CLIs non-interactively against an upstream.

The pinned CLIs are installed by ``scripts/install-clis.sh`` into ``.venv/clis`` (once; cached).
Each run gets a fresh HOME (Claude Code: ``CLAUDE_CONFIG_DIR``; Codex: ``CODEX_HOME`` with a
``config.toml`` naming the upstream), so nothing reads or writes the user's own settings, and
returns the transcripts the CLI wrote: Claude Code ``$CLAUDE_CONFIG_DIR/projects/**/*.jsonl``,
Codex ``$CODEX_HOME/sessions/**/rollout-*.jsonl``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import script
from tests.fakes.script import Item, Reply, Text, ToolCall, Usage
from tests.fakes.vendors import Matcher, Request

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install-clis.sh"
CLAUDE_MODEL = "claude-sonnet-4-6"
CODEX_MODEL = "gpt-5.5"  # a model Codex knows: it gets the freeform apply_patch tool
TIMEOUT = 180
TWO = (Usage(), Usage())


@dataclass(frozen=True)
class Clis:
    claude: Path
    codex: Path


@dataclass(frozen=True)
class CliRun:
    """What one CLI run did: exit code, output, and the transcripts it wrote."""

    returncode: int
    stdout: str
    stderr: str
    home: Path
    transcripts: tuple[Path, ...]

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def install_clis() -> Clis:
    """The pinned CLIs (installing them first if needed); skipped with DISTILLGUARD_SKIP_CLIS=1."""
    if os.environ.get("DISTILLGUARD_SKIP_CLIS") == "1":
        pytest.skip("DISTILLGUARD_SKIP_CLIS=1")
    done = subprocess.run(
        ["bash", str(INSTALL)], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/install-clis.sh failed:\n{done.stderr}", pytrace=False)
    bin_dir = Path(done.stdout.strip().splitlines()[-1])
    return Clis(claude=bin_dir / "claude", codex=bin_dir / "codex")


def _base_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
    }


def run_claude(
    claude: Path, *, base_url: str, api_key: str, prompt: str, cwd: Path, home: Path
) -> CliRun:
    """``claude -p PROMPT`` with ``ANTHROPIC_BASE_URL=base_url`` (Claude Code appends
    ``/v1/messages`` to it, keeping its path), edits accepted without a prompt."""
    env = {
        **_base_env(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    command = [str(claude), "-p", prompt, "--model", CLAUDE_MODEL]
    command += ["--permission-mode", "acceptEdits", "--output-format", "text"]
    done = _run(command, cwd, env)
    found = sorted((home / ".claude" / "projects").glob("**/*.jsonl"))
    return CliRun(done.returncode, done.stdout, done.stderr, home, tuple(found))


def codex_config(base_url: str, key_env: str) -> str:
    """A Codex ``config.toml`` with one Responses-API provider at ``base_url`` (ends in /v1)."""
    return (
        f'model = "{CODEX_MODEL}"\n'
        'model_provider = "distillguard_test"\n'
        "[model_providers.distillguard_test]\n"
        'name = "distillguard test upstream"\n'
        f"base_url = {json.dumps(base_url)}\n"
        'wire_api = "responses"\n'
        f'env_key = "{key_env}"\n'
    )


def run_codex(
    codex: Path, *, base_url: str, api_key: str, prompt: str, cwd: Path, home: Path
) -> CliRun:
    """``codex exec PROMPT`` with a provider whose ``base_url`` is ``base_url`` (ends in /v1),
    in its default ``workspace-write`` sandbox (works in this container)."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config(base_url, "DISTILLGUARD_TEST_KEY"))
    env = {**_base_env(home), "CODEX_HOME": str(codex_home), "DISTILLGUARD_TEST_KEY": api_key}
    command = [str(codex), "exec", "--skip-git-repo-check", "--sandbox", "workspace-write"]
    done = _run([*command, prompt], cwd, env)
    found = sorted((codex_home / "sessions").glob("**/rollout-*.jsonl"))
    return CliRun(done.returncode, done.stdout, done.stderr, home, tuple(found))


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


# --- Scripted turns --------------------------------------------------------------------------


def is_claude_turn(request: Request) -> bool:
    """A main-loop call of Claude Code (it offers its tools), not a side request."""
    body = request.json()
    return request.path.endswith("/v1/messages") and bool(body.get("tools"))


def is_codex_turn(request: Request) -> bool:
    return request.path.endswith("/v1/responses")


@dataclass(frozen=True)
class Turn:
    """A scripted agent turn: the replies to queue, which calls they answer, what to expect."""

    items: tuple[Item, ...]
    when: Matcher
    file: Path
    content: str
    answer: str
    call_id: str
    message_ids: tuple[str, ...]


def claude_write_turn(
    cwd: Path, name: str, content: str, answer: str, usages: tuple[Usage, Usage] = TWO
) -> Turn:
    """Claude Code calls ``Write`` with ``content`` for ``cwd/name``, then answers."""
    path = cwd / name
    call = ToolCall("Write", {"file_path": str(path), "content": content})
    ids = (script.new_id("msg"), script.new_id("msg"))
    write = Reply(blocks=(Text("Writing."), call), id=ids[0], usage=usages[0])
    turn = (write, script.text(answer, id=ids[1], usage=usages[1]))
    return Turn(turn, is_claude_turn, path, content, answer, call.id, ids)


def codex_patch_turn(
    cwd: Path, name: str, content: str, answer: str, usages: tuple[Usage, Usage] = TWO
) -> Turn:
    """Codex calls ``apply_patch`` adding ``name`` with ``content``, then answers."""
    added = "".join(f"+{line}\n" for line in content.splitlines())
    patch = f"*** Begin Patch\n*** Add File: {name}\n{added}*** End Patch\n"
    call = ToolCall("apply_patch", patch, id=script.new_id("call"))
    ids = (script.new_id("resp"), script.new_id("resp"))
    patching = Reply(blocks=(Text("Adding the file."), call), id=ids[0], usage=usages[0])
    turn = (patching, script.text(answer, id=ids[1], usage=usages[1]))
    return Turn(turn, is_codex_turn, cwd / name, content, answer, call.id, ids)


def tool_results(request: Request) -> list[dict[str, Any]]:
    """The ``tool_result`` blocks (Anthropic) or ``*_call_output`` items (Responses) it sends."""
    body = request.json()
    if "messages" in body:
        contents = [m["content"] for m in body["messages"] if isinstance(m["content"], list)]
        return [b for blocks in contents for b in blocks if b.get("type") == "tool_result"]
    return [i for i in body.get("input", []) if str(i.get("type", "")).endswith("_call_output")]


def transcript_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- Comparing two runs of the same turn ------------------------------------------------------

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
VOLATILE = (
    (UUID, "<uuid>"),
    (re.compile(r"\b(msg|ctc|ctco|fc|rs|call|toolu|resp|req)_[0-9a-f]{24}\b"), r"\1_<id>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hex64>"),  # Claude Code's device_id
    (re.compile(r"\b1[0-9]{12}\b"), "<unix-ms>"),
    (re.compile(r"Wall time: [0-9.]+ seconds"), "Wall time: <t> seconds"),
)
TRANSPORT = frozenset(("host", "content-length", "connection", "x-api-key", "authorization"))


def claude_project_dir(path: Path) -> str:
    """How Claude Code names a project folder after its working directory."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(path))


def comparable(request: Request, root: Path) -> dict[str, Any]:
    """``request`` with what differs between two runs of the same turn masked: ``root`` (the
    run's directory), ids, uuids, timings; without transport headers and the credential."""

    def mask(text: str) -> str:
        text = text.replace(str(root), "<root>").replace(claude_project_dir(root), "<root>")
        for pattern, replacement in VOLATILE:
            text = pattern.sub(replacement, text)
        return text

    headers = {k: mask(v) for k, v in request.headers if k not in TRANSPORT}
    body = json.loads(mask(request.body.decode())) if request.body else None
    return {
        "request": f"{request.method} {request.path}?{request.query}",
        "headers": headers,
        "body": body,
    }


def run_cli(
    clis: Clis, cli: str, *, base_url: str, api_key: str, prompt: str, root: Path
) -> CliRun:
    """``cli`` (``claude`` or ``codex``) in ``root/work`` with the HOME ``root/home``."""
    cwd = root / "work"
    cwd.mkdir(parents=True, exist_ok=True)
    run, binary = (run_claude, clis.claude) if cli == "claude" else (run_codex, clis.codex)
    return run(
        binary, base_url=base_url, api_key=api_key, prompt=prompt, cwd=cwd, home=root / "home"
    )


def direct_endpoint(origin: str, cli: str) -> str:
    """What ``cli`` is pointed at to talk to a vendor origin directly."""
    return origin if cli == "claude" else origin + "/v1"
