"""``install claude-code|codex``: merged into the settings there, idempotent, never clobbering."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.capture.hooks import install as hooks
from distillguard.cli import main
from distillguard.errors import ConfigError

FORMATTER = {"matcher": "Write", "hooks": [{"type": "command", "command": "ruff format"}]}
EXISTING = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "guard"}]}],
        "PostToolUse": [FORMATTER],
    },
}


def ours(data: dict[str, object], event: str = "PostToolUse") -> list[tuple[int, int, str]]:
    groups = data["hooks"][event]  # type: ignore[index]
    return [
        (g, h, group["matcher"])
        for g, group in enumerate(groups)
        for h, handler in enumerate(group["hooks"])
        if hooks.MARK in handler["command"]
    ]


def test_claude_code_merge_keeps_everything_and_installs_once(tmp_path: Path) -> None:
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(EXISTING))
    command = hooks.hook_command("claude-code", python="/usr/bin/python3", env={})
    hooks.install_claude_code(settings, command)
    hooks.install_claude_code(settings, command)
    data = json.loads(settings.read_text())
    assert {k: v for k, v in data.items() if k != "hooks"} == {
        "model": "opus",
        "permissions": {"allow": ["Bash(ls:*)"]},
    }
    assert data["hooks"]["PreToolUse"] == EXISTING["hooks"]["PreToolUse"]  # type: ignore[index]
    assert data["hooks"]["PostToolUse"][0] == FORMATTER
    assert ours(data) == [(1, 0, "Write|Edit|MultiEdit|NotebookEdit")]
    (handler,) = data["hooks"]["PostToolUse"][1]["hooks"]
    assert handler == {"type": "command", "command": command, "timeout": hooks.TIMEOUT}
    assert command == "/usr/bin/python3 -m distillguard.capture.hooks claude-code"


def test_reinstall_updates_in_place(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    hooks.install_claude_code(settings, hooks.hook_command("claude-code", "py", {}))
    data = json.loads(settings.read_text())
    data["hooks"]["PostToolUse"].append(FORMATTER)  # the user adds a hook after ours
    settings.write_text(json.dumps(data))
    newer = hooks.hook_command("claude-code", "py", {"DISTILLGUARD_HOME": str(tmp_path / "h")})
    hooks.install_claude_code(settings, newer, timeout=7)
    data = json.loads(settings.read_text())
    assert ours(data) == [(0, 0, hooks.CLAUDE_MATCHER)]  # kept its place: Codex trusts by it
    assert data["hooks"]["PostToolUse"][0]["hooks"][0]["command"] == newer
    assert data["hooks"]["PostToolUse"][1] == FORMATTER


def test_invalid_settings_are_refused_not_overwritten(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"hooks": {')
    with pytest.raises(ConfigError, match="not valid JSON"):
        hooks.install_claude_code(settings, "cmd")
    assert settings.read_text() == '{"hooks": {'


def test_hook_command_bakes_in_absolute_settings(tmp_path: Path) -> None:
    env = {"DISTILLGUARD_HOME": "rel/home", "DISTILLGUARD_DB": "sqlite:///x.db", "OTHER": "1"}
    command = hooks.hook_command("codex", "/opt/py", env)
    home = (Path.cwd() / "rel" / "home").resolve()
    assert command == (
        f'DISTILLGUARD_HOME="${{DISTILLGUARD_HOME:-{home}}}" '
        'DISTILLGUARD_DB="${DISTILLGUARD_DB:-sqlite:///x.db}" '
        "/opt/py -m distillguard.capture.hooks codex"
    )


def test_codex_trust_is_written_once_and_kept_current(tmp_path: Path) -> None:
    hooks_file, config = tmp_path / "codex" / "hooks.json", tmp_path / "codex" / "config.toml"
    config.parent.mkdir()
    config.write_text('model = "gpt-5.5"\n\n[features]\nhooks = true\n')
    one = hooks.hook_command("codex", "py", {"DISTILLGUARD_HOME": "/one"})
    hooks.install_codex(hooks_file, config, one)
    hooks.install_codex(hooks_file, config, one)
    parsed = tomllib.loads(config.read_text())
    key = f"{hooks_file.resolve()}:post_tool_use:0:0"
    assert parsed["model"] == "gpt-5.5" and parsed["features"] == {"hooks": True}
    handler = {"type": "command", "command": one, "timeout": hooks.TIMEOUT}
    first = hooks.codex_hook_hash("post_tool_use", "apply_patch", handler)
    assert parsed["hooks"]["state"] == {key: {"trusted_hash": first}}
    assert config.read_text().count("[hooks.state.") == 1

    two = hooks.hook_command("codex", "py", {"DISTILLGUARD_HOME": "/two"})
    hooks.install_codex(hooks_file, config, two)  # a new command: a new hash, same key
    state = tomllib.loads(config.read_text())["hooks"]["state"]
    assert list(state) == [key] and state[key]["trusted_hash"] != first
    assert ours(json.loads(hooks_file.read_text())) == [(0, 0, "apply_patch")]


def test_cli_project_scope_goes_to_the_repository(tmp_path: Path, monkeypatch) -> None:
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / ".git").mkdir()  # not a real repository: falls back to the working directory
    monkeypatch.chdir(project)
    env = {"DISTILLGUARD_HOME": str(tmp_path / "dg"), "CLAUDE_CONFIG_DIR": str(tmp_path / "cc")}
    result = CliRunner().invoke(main, ["install", "claude-code", "--scope", "project"], env=env)
    assert result.exit_code == 0, result.output
    assert (project / ".claude" / "settings.json").is_file()
    result = CliRunner().invoke(main, ["install", "claude-code"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "cc" / "settings.json").read_text())
    (handler,) = data["hooks"]["PostToolUse"][0]["hooks"]
    assert f"DISTILLGUARD_HOME:-{tmp_path / 'dg'}" in handler["command"]


def test_cli_bakes_in_the_default_home_too(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISTILLGUARD_HOME", raising=False)
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cc"), "CODEX_HOME": str(tmp_path / "cx")}
    for agent in ("claude-code", "codex"):
        result = CliRunner().invoke(main, ["install", agent, "--edits-only"], env=env)
        assert result.exit_code == 0, result.output
    for path in (tmp_path / "cc" / "settings.json", tmp_path / "cx" / "hooks.json"):
        (group,) = json.loads(path.read_text())["hooks"]["PostToolUse"]
        command = group["hooks"][0]["command"]
        assert f"DISTILLGUARD_HOME:-{tmp_path / '.distillguard'}}}" in command
        assert command.endswith(" --edits-only")
    assert "trusted_hash" in (tmp_path / "cx" / "config.toml").read_text()
