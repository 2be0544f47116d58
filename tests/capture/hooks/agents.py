"""Scripted agent turns and runs for the hook, import and end-to-end tests.

The real CLIs come from ``tests/clis/harness.py``. Claude Code runs through ``run_claude`` (its
project settings in ``cwd/.claude``, its config dir a temp ``home/.claude``); Codex through
``run_codex_keeping_config`` here, since the harness rewrites ``config.toml`` (where Codex keeps
its hook trust) on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.clis.harness import (
    CliRun,
    _base_env,
    _run,
    codex_config,
    is_claude_turn,
)
from tests.fakes import script
from tests.fakes.script import Item, Reply, Text, ToolCall, Usage
from tests.fakes.vendors import VendorUpstream

WRITE_USAGE = Usage(input_tokens=410, output_tokens=95, cache_read_tokens=1200,
                    cache_write_tokens=300)  # fmt: skip
EDIT_USAGE = Usage(input_tokens=520, output_tokens=40)


@dataclass(frozen=True)
class WriteEditTurn:
    """Claude Code writes ``path`` with ``content``, edits ``old`` into ``new``, then answers."""

    items: tuple[Item, ...]
    path: Path
    content: str
    old: str
    new: str
    write_id: str
    edit_id: str
    answer_id: str
    write_call: str
    edit_call: str

    @property
    def final(self) -> str:
        return self.content.replace(self.old, self.new)


def claude_write_edit_turn(path: Path, content: str, old: str, new: str) -> WriteEditTurn:
    write = ToolCall("Write", {"file_path": str(path), "content": content})
    edit = ToolCall("Edit", {"file_path": str(path), "old_string": old, "new_string": new})
    ids = (script.new_id("msg"), script.new_id("msg"), script.new_id("msg"))
    items = (
        Reply(blocks=(Text("Writing the file."), write), id=ids[0], usage=WRITE_USAGE),
        Reply(blocks=(edit,), id=ids[1], usage=EDIT_USAGE),
        script.text("Done: wrote and edited the file.", id=ids[2]),
    )
    return WriteEditTurn(items, path, content, old, new, *ids, write.id, edit.id)


def enqueue_claude(upstream: VendorUpstream, turn: WriteEditTurn) -> None:
    upstream.enqueue(*turn.items, when=is_claude_turn)


def run_codex_keeping_config(
    codex: Path, *, base_url: str, api_key: str, prompt: str, cwd: Path, home: Path
) -> CliRun:
    """``codex exec PROMPT`` like the harness's ``run_codex``, but the provider settings are
    added to ``$CODEX_HOME/config.toml`` (made with the harness's ``codex_config``) rather than
    replacing it, so a hook trust written there before survives."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    config = codex_home / "config.toml"
    existing = config.read_text() if config.exists() else ""
    config.write_text(codex_config(base_url, "DISTILLGUARD_TEST_KEY") + "\n" + existing)
    env = {**_base_env(home), "CODEX_HOME": str(codex_home), "DISTILLGUARD_TEST_KEY": api_key}
    command = [str(codex), "exec", "--skip-git-repo-check", "--sandbox", "workspace-write"]
    done = _run([*command, prompt], cwd, env)
    found = sorted((codex_home / "sessions").glob("**/rollout-*.jsonl"))
    return CliRun(done.returncode, done.stdout, done.stderr, home, tuple(found))
