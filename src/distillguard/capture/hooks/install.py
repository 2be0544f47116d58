"""Install the agents' ``PostToolUse`` hooks, merged into the settings already there.

Claude Code: ``settings.json`` (user: ``$CLAUDE_CONFIG_DIR`` or ``~/.claude``; project: the
repository's ``.claude/``) gains ``hooks.PostToolUse[] = {"matcher": "Write|Edit|MultiEdit|
NotebookEdit", "hooks": [{"type": "command", "command": ..., "timeout": ...}]}``.

Codex (0.169 has lifecycle hooks, ``[features] hooks`` on by default): ``hooks.json`` (user:
``$CODEX_HOME`` or ``~/.codex``; project: the repository's ``.codex/``) gains the same shape
with the matcher ``apply_patch``. Codex runs a hook only once it is trusted: the trust record
is ``[hooks.state."<hooks.json>:post_tool_use:<group>:<handler>"] trusted_hash = "sha256:..."``
in ``$CODEX_HOME/config.toml``, the hash being sha256 of the canonical JSON of the hook's
normalized identity (event, matcher, handler with its timeout and ``async``). Installing writes
that record for distillguard's own hook only, as a user reviewing it in ``/hooks`` would.

Other settings and hooks are kept, and distillguard's hook keeps its place in the list (Codex
keys trust by position); installing twice leaves one hook. A settings file that is not valid
JSON is refused, never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.errors import ConfigError

MARK = "-m distillguard.capture.hooks"
CARRIED_ENV = ("DISTILLGUARD_HOME", "DISTILLGUARD_DB", "DISTILLGUARD_CONFIG")
CLAUDE_MATCHER = "Write|Edit|MultiEdit|NotebookEdit"
CODEX_MATCHER = "apply_patch"
TIMEOUT = 10  # seconds the agent allows the hook; the hook's own budget is shorter
EVENT = "PostToolUse"


@dataclass(frozen=True)
class Installed:
    """Where the hook went; ``trust``: the Codex config holding its trust record."""

    agent: str
    path: Path
    command: str
    trust: Path | None = None


def hook_command(
    agent: str,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    edits_only: bool = False,
) -> str:
    """The shell command the agent runs: distillguard's settings baked in as defaults."""
    env = os.environ if env is None else env
    exports = "".join(
        f'{name}="${{{name}:-{_sh_value(_absolute(name, env[name]))}}}" '
        for name in CARRIED_ENV
        if env.get(name)
    )
    extra = " --edits-only" if edits_only else ""
    return f"{exports}{shlex.quote(python or sys.executable)} {MARK} {agent}{extra}"


def install_claude_code(settings: Path, command: str, timeout: int = TIMEOUT) -> Installed:
    handler = {"type": "command", "command": command, "timeout": timeout}
    data = _read_json(settings)
    _merge(data, CLAUDE_MATCHER, handler, "claude-code")
    _write_json(settings, data)
    return Installed("claude-code", settings, command)


def install_codex(
    hooks_file: Path, config: Path, command: str, timeout: int = TIMEOUT
) -> Installed:
    handler = {"type": "command", "command": command, "timeout": timeout}
    data = _read_json(hooks_file)
    group, index = _merge(data, CODEX_MATCHER, handler, "codex")
    _write_json(hooks_file, data)
    key = f"{hooks_file.resolve()}:post_tool_use:{group}:{index}"
    trust_codex_hook(config, key, codex_hook_hash("post_tool_use", CODEX_MATCHER, handler))
    return Installed("codex", hooks_file, command, config)


def codex_hook_hash(event: str, matcher: str | None, handler: Mapping[str, Any]) -> str:
    """Codex's ``trusted_hash`` of a command hook: sha256 of its normalized identity's JSON."""
    normalized = {"type": "command", "command": handler["command"], "async": False,
                  "timeout": max(int(handler.get("timeout") or 600), 1)}  # fmt: skip
    identity: dict[str, Any] = {"event_name": event, "hooks": [normalized]}
    if matcher is not None:
        identity["matcher"] = matcher
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def trust_codex_hook(config: Path, key: str, trusted_hash: str) -> None:
    """Set ``[hooks.state."KEY"] trusted_hash`` in Codex's config.toml, keeping the rest."""
    text = config.read_text(encoding="utf-8") if config.exists() else ""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config} is not valid TOML ({exc}); fix it first") from exc
    header = f"[hooks.state.{json.dumps(key)}]"
    line = f"trusted_hash = {json.dumps(trusted_hash)}"
    lines = text.splitlines()
    if header in (stripped := [s.strip() for s in lines]):
        at = stripped.index(header) + 1
        end = next((i for i in range(at, len(lines)) if stripped[i].startswith("[")), len(lines))
        body = [s for s in lines[at:end] if not re.match(r"\s*trusted_hash\s*=", s)]
        lines[at:end] = [line, *body]
    else:
        lines += ["", header, line] if text.strip() else [header, line]
    _write_text(config, "\n".join(lines) + "\n")


def _merge(
    data: dict[str, Any], matcher: str, handler: dict[str, Any], agent: str
) -> tuple[int, int]:
    """Put ``handler`` in ``data``'s PostToolUse hooks: in place of ours if there (keeping its
    position), else as a new group at the end. Returns its (group, handler) position."""
    hooks = data.setdefault("hooks", {})
    groups = hooks.setdefault(EVENT, []) if isinstance(hooks, dict) else None
    if not isinstance(groups, list):
        raise ConfigError(f"'hooks.{EVENT}' must be a list of matcher groups")
    ours = f"{MARK} {agent}"
    found: tuple[int, int] | None = None
    for g, group in enumerate(groups):
        handlers = group.get("hooks") if isinstance(group, dict) else None
        for h, existing in enumerate(handlers if isinstance(handlers, list) else []):
            if isinstance(existing, dict) and ours in str(existing.get("command", "")):
                if found is None:
                    found = (g, h)
                    handlers[h] = handler  # type: ignore[index]
                    group["matcher"] = matcher
                else:  # a duplicate from an older install
                    handlers[h] = None  # type: ignore[index]
    for group in groups:
        if isinstance(group, dict) and isinstance(group.get("hooks"), list):
            group["hooks"] = [h for h in group["hooks"] if h is not None]
    if found is None:
        groups.append({"matcher": matcher, "hooks": [handler]})
        found = (len(groups) - 1, 0)
    return found


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); fix it first") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    _write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".distillguard-tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _absolute(name: str, value: str) -> str:
    """Paths relative to where ``install`` ran would break when the agent runs elsewhere."""
    return value if name == "DISTILLGUARD_DB" else str(Path(value).resolve())


def _sh_value(value: str) -> str:
    """Escape for the inside of a double-quoted shell word."""
    return "".join("\\" + ch if ch in '"\\$`' else ch for ch in value)


def claude_settings_file(scope: str, root: Path, env: Mapping[str, str] | None = None) -> Path:
    """``settings.json`` for the scope: the user's (``$CLAUDE_CONFIG_DIR``) or ``root``'s."""
    if scope == "project":
        return root / ".claude" / "settings.json"
    env = os.environ if env is None else env
    return _dir(env, "CLAUDE_CONFIG_DIR", ".claude") / "settings.json"


def codex_files(scope: str, root: Path, env: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """``(hooks.json, config.toml)``: the trust record always goes to the user's config."""
    env = os.environ if env is None else env
    home = _dir(env, "CODEX_HOME", ".codex")
    hooks = root / ".codex" / "hooks.json" if scope == "project" else home / "hooks.json"
    return hooks, home / "config.toml"


def _dir(env: Mapping[str, str], name: str, default: str) -> Path:
    value = env.get(name)
    return Path(value).expanduser() if value else Path(env.get("HOME", "~")).expanduser() / default
