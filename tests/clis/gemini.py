"""Run the real Gemini CLI non-interactively against an upstream (see ``harness`` for the others).

The pinned ``@google/gemini-cli`` (``scripts/install-clis.sh``) is pointed at a Gemini API origin
with ``GOOGLE_GEMINI_BASE_URL`` (it appends ``/v1beta/models/{model}:streamGenerateContent``
``?alt=sse``) and given its key in ``GEMINI_API_KEY`` (sent as ``x-goog-api-key``). Each run
gets a fresh HOME whose ``~/.gemini/settings.json`` selects API-key auth (``-p`` refuses the
"gateway" auth type that the base URL alone would select) and turns usage statistics, telemetry
and update checks off (they would call Google); ``GEMINI_CLI_TRUST_WORKSPACE=true`` keeps
``--yolo`` from being overridden in an untrusted folder. Transcripts:
``~/.gemini/tmp/<project>/chats/session-*.jsonl``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.clis.harness import TWO, CliRun, Clis, Turn, _base_env, _run, comparable
from tests.fakes import script
from tests.fakes.script import Reply, Text, ToolCall, Usage
from tests.fakes.vendors import Request

GEMINI_MODEL = "gemini-2.5-pro"
SETTINGS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
}
#: Gemini CLI names a function call ``<tool>_<unix ms>_<n>``.
CALL_ID = re.compile(r"\b([a-z_]+?)_1[0-9]{12}_[0-9]+\b")


def gemini_binary(clis: Clis) -> Path:
    """``gemini``, installed beside the other pinned CLIs."""
    return clis.claude.parent / "gemini"


def run_gemini(
    gemini: Path, *, base_url: str, api_key: str, prompt: str, cwd: Path, home: Path
) -> CliRun:
    """``gemini -p PROMPT --yolo`` with ``GOOGLE_GEMINI_BASE_URL=base_url``."""
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps(SETTINGS))
    env = {
        **_base_env(home),
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "GEMINI_API_KEY": api_key,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
    }
    done = _run([str(gemini), "-p", prompt, "-m", GEMINI_MODEL, "--yolo"], cwd, env)
    found = sorted((home / ".gemini" / "tmp").glob("*/chats/session-*.jsonl"))
    return CliRun(done.returncode, done.stdout, done.stderr, home, tuple(found))


def is_gemini_turn(request: Request) -> bool:
    return request.path.endswith(":streamGenerateContent")


def gemini_write_turn(
    cwd: Path, name: str, content: str, answer: str, usages: tuple[Usage, Usage] = TWO
) -> Turn:
    """Gemini CLI calls ``write_file`` with ``content`` for ``cwd/name``, then answers."""
    path = cwd / name
    call = ToolCall("write_file", {"file_path": str(path), "content": content})
    ids = (script.new_id("resp"), script.new_id("resp"))
    write = Reply(blocks=(Text("Writing the file."), call), id=ids[0], usage=usages[0])
    turn = (write, script.text(answer, id=ids[1], usage=usages[1]))
    return Turn(turn, is_gemini_turn, path, content, answer, call.id, ids)


def gemini_comparable(request: Request, root: Path) -> dict[str, Any]:
    """:func:`harness.comparable`, with Gemini CLI's call ids (they hold the time) masked too."""
    body = CALL_ID.sub(r"\1_<call>", request.body.decode())
    masked = comparable(replace(request, body=body.encode()), root)
    masked["headers"].pop("x-goog-api-key", None)
    return masked
