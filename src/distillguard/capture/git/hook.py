"""What the installed git hooks run: ``python -m distillguard.capture.git.hook HOOK [ARGS]``.

It always exits 0. The work (attributing the new commits) runs in a child process with a time
budget (``DISTILLGUARD_HOOK_TIMEOUT`` seconds, default 30); a failure or a timeout is logged to
``.git/distillguard-hook.log`` with the traceback, and git carries on.

- ``post-commit``: attribute HEAD (skipped for an amend and during a rebase: post-rewrite
  follows with the new commits).
- ``post-rewrite`` (amend, rebase): attribute every new commit named on standard input
  (``<old-sha> <new-sha> [<extra>]`` per line).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

DEFAULT_TIMEOUT = 30.0
LOG = "distillguard-hook.log"


def targets(hook: str, stdin: str) -> list[str]:
    """The commits a hook invocation should attribute."""
    if hook == "post-rewrite":
        news = [line.split()[1] for line in stdin.splitlines() if len(line.split()) >= 2]
        return list(dict.fromkeys(news))
    return ["HEAD"]


def _git_dir_path(name: str) -> Path | None:
    out = subprocess.run(
        ["git", "rev-parse", "--git-path", name], capture_output=True, text=True, check=False
    )
    return Path(out.stdout.strip()).resolve() if out.returncode == 0 else None


def _rebasing() -> bool:
    return any(
        (path := _git_dir_path(name)) is not None and path.exists()
        for name in ("rebase-merge", "rebase-apply")
    )


def _amending() -> bool:
    out = subprocess.run(
        ["git", "reflog", "-1", "--format=%gs", "HEAD"], capture_output=True, text=True, check=False
    )
    return out.returncode == 0 and out.stdout.startswith("commit (amend)")


def log(message: str) -> None:
    path = _git_dir_path(LOG)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message.rstrip()}\n")


def timeout() -> float:
    try:
        return float(os.environ.get("DISTILLGUARD_HOOK_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def run_hook(hook: str, stdin: str) -> int:
    """Attribute in a child process, within the time budget; log whatever goes wrong."""
    if hook == "post-commit" and (_rebasing() or _amending()):
        return 0  # post-rewrite follows, with the new commits
    shas = targets(hook, stdin)
    if not shas:
        return 0
    cmd = [sys.executable, "-m", "distillguard.capture.git.hook", "--attribute", *shas]
    budget = timeout()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget, check=False)
    except subprocess.TimeoutExpired:
        log(f"{hook}: attribution of {' '.join(shas)} took over {budget:g}s; stopped")
        return 0
    if proc.returncode != 0:
        log(f"{hook}: attribution failed (exit {proc.returncode}):\n{proc.stderr}")
    return 0


def attribute(revs: Sequence[str]) -> int:
    """The child: attribute ``revs`` and write their notes (errors propagate to the parent)."""
    from distillguard.capture.git.repo import Git
    from distillguard.capture.git.session import attribute_commits, open_attributor
    from distillguard.config import load_settings
    from distillguard.ledger import Ledger

    git = Git()
    settings = load_settings()
    with Ledger(settings.db_url, create=False) as ledger:  # a commit never creates a ledger
        attributor = open_attributor(git, settings, ledger)
        done = attribute_commits(attributor, [git.resolve(r) for r in revs])
    for att in done:
        log(f"attributed {att.revision}: {att.attributed}/{att.added} added lines from outside")
    return 0


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["--attribute"]:
        return attribute(argv[1:])
    hook = argv[0] if argv else ""
    try:
        stdin = sys.stdin.read() if hook == "post-rewrite" else ""
        return run_hook(hook, stdin)
    except Exception:  # a hook must never break git: log anything and carry on
        with contextlib.suppress(OSError):
            log(f"{hook}: hook error:\n{traceback.format_exc()}")
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
