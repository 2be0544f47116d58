"""What the installed agent hooks run: ``python -m distillguard.capture.hooks AGENT``.

It reads the hook's JSON on standard input, records the edit (see :mod:`.record`) and logs one
line about it to ``$DISTILLGUARD_HOME/hooks.log``. It always exits 0 and prints nothing, so the
agent carries on whatever happens: a failure is logged with its traceback, and a watchdog
thread stops the hook after ``DISTILLGUARD_HOOK_BUDGET`` seconds (default 5: an unreachable
database, a lock held too long), logging that it did. Heavy modules load only once the watchdog
runs, and none of them is numba: the hook never indexes or scans, it only records.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distillguard.capture.wire.prices import PriceTable

DEFAULT_BUDGET = 5.0
LOG = "hooks.log"
AGENTS = ("claude-code", "codex")
EDITS_ONLY = "--edits-only"


def log(message: str) -> None:
    """Append to ``$DISTILLGUARD_HOME/hooks.log`` (never raises)."""
    home = Path(os.environ.get("DISTILLGUARD_HOME", ".distillguard"))
    with contextlib.suppress(OSError):
        home.mkdir(parents=True, exist_ok=True)
        with (home / LOG).open("a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message.rstrip()}\n")


def budget() -> float:
    try:
        return max(float(os.environ.get("DISTILLGUARD_HOOK_BUDGET", DEFAULT_BUDGET)), 0.1)
    except ValueError:
        return DEFAULT_BUDGET


def _give_up(agent: str, seconds: float) -> None:
    log(f"{agent}: the hook took over {seconds:g}s (DISTILLGUARD_HOOK_BUDGET); stopped")
    os._exit(0)


def handle(agent: str, raw: bytes, *, edits_only: bool = False) -> str:
    """Record what the hook reports; a line for the log."""
    import orjson

    from distillguard.capture.hooks.record import HookCall, record_call
    from distillguard.capture.transcripts.importer import AGENTS as READERS
    from distillguard.capture.transcripts.records import Context
    from distillguard.config import load_settings
    from distillguard.ledger import Ledger

    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return f"{agent}: the hook's input is not JSON ({exc}); nothing recorded"
    call = HookCall.parse(agent, payload)
    settings = load_settings()
    ctx = Context(vendor=READERS[agent].vendor, tool=agent, prices=_prices(settings.prices_path))
    with Ledger(settings.db_url) as ledger:
        result = record_call(ledger, call, ctx, edits_only=edits_only)
    if result is None:
        return f"{agent}: {call.tool_name} {call.call_id}: no file written; nothing recorded"
    how = "from the transcript" if result.from_transcript else "NOT in the transcript: input only"
    return (
        f"{agent}: {call.tool_name} {call.call_id} -> {result.output_id} ({how}; output "
        f"{'new' if result.output_created else 'known'}, {result.edits_created} new edit(s))"
    )


def _prices(path: Path | None) -> PriceTable | None:
    """The price table, so a hook's output is priced like the gateway's (None if unreadable)."""
    from distillguard.capture.wire import prices as pricing
    from distillguard.errors import DistillguardError

    try:
        return pricing.load(path)
    except DistillguardError as exc:
        log(f"price table not loaded, outputs recorded without cost: {exc}")
        return None


def main(argv: Sequence[str]) -> int:
    agent = argv[0] if argv else ""
    seconds = budget()
    watchdog = threading.Timer(seconds, _give_up, args=(agent, seconds))
    watchdog.daemon = True
    watchdog.start()
    try:
        if agent not in AGENTS:
            log(f"unknown agent {agent!r} (expected one of {', '.join(AGENTS)})")
            return 0
        log(handle(agent, sys.stdin.buffer.read(), edits_only=EDITS_ONLY in argv[1:]))
    except Exception:  # a hook must never break the agent: log anything and carry on
        log(f"{agent}: hook error:\n{traceback.format_exc()}")
    finally:
        watchdog.cancel()
    return 0
