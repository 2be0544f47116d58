"""Install the post-commit and post-rewrite hooks that keep attribution notes current.

The hook is a small POSIX shell script. A hook that was there before is kept (renamed
``<hook>.pre-distillguard``) and run first, with the same arguments and standard input, and its
exit status is the hook's. Then distillguard's part runs with a time budget; it logs failures
to ``.git/distillguard-hook.log`` and never makes the git command fail.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from distillguard.capture.git.repo import Git

HOOKS = ("post-commit", "post-rewrite")
MARKER = "# distillguard-hook v1"
CHAINED = ".pre-distillguard"
CARRIED_ENV = ("DISTILLGUARD_HOME", "DISTILLGUARD_DB", "DISTILLGUARD_CONFIG")

_SCRIPT = """#!/bin/sh
{marker}: installed by `distillguard install git`. Attributes new and rewritten commits
# (git notes on refs/notes/distillguard). It never fails the git command.
{exports}input=""
if [ "{hook}" = "post-rewrite" ]; then input=$(cat); fi
status=0
chained="$0{chained}"
if [ -x "$chained" ]; then
  printf '%s\\n' "$input" | "$chained" "$@"
  status=$?
fi
printf '%s\\n' "$input" | {python} -m distillguard.capture.git.hook {hook} "$@" >/dev/null 2>&1 ||
  echo "$(date) {hook}: {python} -m distillguard.capture.git.hook failed" \\
    >>"$(git rev-parse --git-path distillguard-hook.log)" 2>/dev/null
exit $status
"""


@dataclass(frozen=True)
class Installed:
    hook: str
    path: Path
    chained: Path | None  # the previous hook, kept and run first


def install_hooks(
    git: Git, python: str | None = None, env: Mapping[str, str] | None = None
) -> list[Installed]:
    """Write both hooks; ``env``'s distillguard variables become the hooks' defaults."""
    hooks_dir = git.git_path("hooks")
    hooks_dir.mkdir(parents=True, exist_ok=True)
    env = os.environ if env is None else env
    exports = "".join(
        f'export {name}="${{{name}:-{_sh_value(_absolute(name, env[name]))}}}"\n'
        for name in CARRIED_ENV
        if env.get(name)
    )
    return [
        _install_one(hooks_dir / hook, hook, python or sys.executable, exports) for hook in HOOKS
    ]


def _install_one(path: Path, hook: str, python: str, exports: str) -> Installed:
    chained = path.with_name(path.name + CHAINED)
    if path.exists() and MARKER not in path.read_text(errors="replace"):
        os.replace(path, chained)  # keep the existing hook working: ours runs it first
    script = _SCRIPT.format(
        marker=MARKER, hook=hook, python=shlex.quote(python), chained=CHAINED, exports=exports
    )
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return Installed(hook, path, chained if chained.exists() else None)


def _absolute(name: str, value: str) -> str:
    """Paths relative to where ``install`` ran would break when git runs the hook elsewhere."""
    if name == "DISTILLGUARD_DB":
        return value
    return str(Path(value).resolve())


def _sh_value(value: str) -> str:
    """Escape for the inside of a double-quoted shell word."""
    return "".join("\\" + ch if ch in '"\\$`' else ch for ch in value)
