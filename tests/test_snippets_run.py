"""The shipped snippets run as written: README's Claude Code and Codex blocks drive the real
pinned CLIs through ``distillguard serve`` (against the scripted upstream) and their answers are
recorded; the GitHub Actions example's install step installs distillguard from a repository.

The README blocks get only the gateway's address and a real key in place of their placeholders
(``http://gw:8787``, ``dg-...``); the Claude Code block is run by bash and its exports are what
Claude Code gets; the Codex block is Codex's ``config.toml``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.clis.gateway import Served, serving
from tests.clis.harness import (
    TIMEOUT,
    Clis,
    claude_write_turn,
    codex_patch_turn,
    install_clis,
    run_claude,
)
from tests.fakes.vendors import VendorUpstream
from tests.readme import CLAUDE_CODE, CODEX, ROOT, filled, the_block

CONTENT = "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n"
WORKFLOW = ROOT / "examples" / "github-actions" / "distillguard.yml"


@pytest.fixture(scope="module")
def clis() -> Clis:
    return install_clis()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[VendorUpstream, Served]]:
    with VendorUpstream() as upstream, serving(tmp_path / "gw", upstream.base_url) as served:
        yield upstream, served


def _exports(script: str) -> dict[str, str]:
    """The environment after bash runs ``script``."""
    done = subprocess.run(
        ["bash", "-c", f"{script}\nenv -0"], capture_output=True, text=True, check=True, env={}
    )
    return dict(line.split("=", 1) for line in done.stdout.split("\0") if "=" in line)


def test_the_claude_code_block_runs_as_written(
    clis: Clis, gateway: tuple[VendorUpstream, Served], tmp_path: Path
) -> None:
    upstream, served = gateway
    script = filled(the_block("bash", CLAUDE_CODE).text, served.process.origin, served.key)
    env = _exports(script)
    work = tmp_path / "work"
    work.mkdir()
    turn = claude_write_turn(work, "clamp.py", CONTENT, "Wrote clamp.py.")
    upstream.enqueue(*turn.items, when=turn.when)
    done = run_claude(
        clis.claude,
        base_url=env["ANTHROPIC_BASE_URL"],
        api_key=env["ANTHROPIC_API_KEY"],
        prompt="Write clamp.py",
        cwd=work,
        home=tmp_path / "home",
    )
    assert done.returncode == 0, done.describe()
    assert turn.file.read_text() == CONTENT
    outputs = served.outputs(turn.message_ids)
    assert len(outputs) == 2, served.process.output()
    assert CONTENT in (outputs[0].text or "") and outputs[0].tool == "claude-code"


def test_the_codex_block_runs_as_written(
    clis: Clis, gateway: tuple[VendorUpstream, Served], tmp_path: Path
) -> None:
    """Before: Codex refused README's config ("provider name must not be empty")."""
    upstream, served = gateway
    block = the_block("toml", CODEX)
    codex_home = tmp_path / "home" / ".codex"
    codex_home.mkdir(parents=True)
    (codex_home / "config.toml").write_text(filled(block.text, served.process.origin, served.key))
    work = tmp_path / "work"
    work.mkdir()
    turn = codex_patch_turn(work, "clamp.py", CONTENT, "Added clamp.py.")
    upstream.enqueue(*turn.items, when=turn.when)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "CODEX_HOME": str(codex_home),
        "DISTILLGUARD_KEY": served.key,  # the variable the block's env_key names
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
    }
    command = [str(clis.codex), "exec", "--skip-git-repo-check", "--sandbox", "workspace-write"]
    done = subprocess.run(
        [*command, "Add clamp.py"],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert turn.file.read_text() == CONTENT
    outputs = served.outputs(turn.message_ids)
    assert len(outputs) == 2, served.process.output()
    assert outputs[1].tool == "codex" and "Added clamp.py." in (outputs[1].text or "")


def _install_step() -> str:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["check"]["steps"]
    found = [s["run"] for s in steps if "pip install" in s.get("run", "")]
    assert len(found) == 1, "expected one step that runs pip install"
    script: str = found[0]
    return script


def _pip_shim(bin_dir: Path, report: Path) -> None:
    """A ``pip`` that resolves what it is asked to install (a dry run: no dependencies)."""
    bin_dir.mkdir()
    shim = bin_dir / "pip"
    shim.write_text(
        f'#!/bin/sh\nexec {sys.executable} -m pip "$@" --dry-run --no-deps --report {report}\n'
    )
    shim.chmod(0o755)


def test_the_actions_example_installs_from_the_repository(tmp_path: Path) -> None:
    """Before: ``pip install 'distillguard[postgres]'``, a package on no index. The step, run
    as written with DISTILLGUARD_SOURCE naming this repository at HEAD, resolves distillguard
    from it; without DISTILLGUARD_SOURCE it stops with a clear error."""
    script = _install_step()
    report = tmp_path / "report.json"
    _pip_shim(tmp_path / "bin", report)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    unset = subprocess.run(
        ["bash", "-e", "-c", script], env={**env, "DISTILLGUARD_SOURCE": ""},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert unset.returncode == 2 and "set the repository variable" in unset.stdout
    done = subprocess.run(
        ["bash", "-e", "-c", script], env={**env, "DISTILLGUARD_SOURCE": f"file://{ROOT}@{head}"},
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    installed = json.loads(report.read_text())["install"]
    assert [(i["metadata"]["name"], i["download_info"]["url"]) for i in installed] == [
        ("distillguard", f"file://{ROOT}")
    ]
    assert installed[0]["requested_extras"] == ["postgres"]
