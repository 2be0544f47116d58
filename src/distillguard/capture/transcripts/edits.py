"""Which files a tool call writes, and what it adds and replaces in each.

Claude Code: ``Write`` (``content``), ``Edit`` (``new_string`` over ``old_string``),
``MultiEdit`` (its ``edits``), ``NotebookEdit`` (``new_source``), each on ``file_path``
(``notebook_path``). Codex: ``apply_patch`` (freeform input, ``{"input": ...}`` arguments, or
through the shell), split per ``*** Add File:`` / ``*** Update File:`` section (``*** Move to:``
renames), paths relative to the session's working directory. What is added and what is quoted
comes from the gateway's :func:`distillguard.capture.wire.tools.contribution`, so the two
never disagree on what the model wrote.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from distillguard.capture.wire import tools
from distillguard.ledger.chain import output_id
from distillguard.ledger.edits import Edit
from distillguard.model import NewOutput

FILE_TOOLS = {"Write": "file_path", "Edit": "file_path", "MultiEdit": "file_path",
              "NotebookEdit": "notebook_path"}  # fmt: skip
SECTION = ("*** Add File: ", "*** Update File: ", "*** Delete File: ")
MOVE = "*** Move to: "


@dataclass(frozen=True)
class FileWrite:
    """What one tool call did to one file."""

    path: str
    added: str | None
    removed: str | None


#: A tool call: ``(name, call id, arguments)``.
Call = tuple[str, str | None, Any]


def edits_of(output: NewOutput, calls: Iterable[Call], cwd: str | None) -> Iterator[Edit]:
    """The file edits ``output``'s tool calls made, tied to the output's id."""
    for name, call_id, arguments in calls:
        for write in file_writes(name, arguments, cwd):
            yield Edit(
                output_id=output_id(output.idempotency_key()),
                vendor=output.vendor,
                model=output.model,
                tool=output.tool or "unknown",
                path=write.path,
                added=write.added,
                removed=write.removed,
                tool_name=name,
                call_id=call_id,
                session=output.session,
                message_id=output.message_id,
                created_at=output.created_at,
            )


def file_writes(name: str, arguments: Any, cwd: str | None) -> list[FileWrite]:
    """The files ``name(arguments)`` writes (none for a tool that writes no file)."""
    if name in FILE_TOOLS:
        args = _object(arguments)
        path = args.get(FILE_TOOLS[name])
        if not isinstance(path, str) or not path:
            return []
        added, quoted = tools.contribution(name, args)
        return [FileWrite(_absolute(path, cwd), _join(added), _join(quoted))]
    patch = _patch_text(name, arguments)
    return [] if patch is None else list(_patch_writes(patch, cwd))


def _patch_text(name: str, arguments: Any) -> str | None:
    if isinstance(arguments, str):
        if arguments.lstrip().startswith("*** Begin Patch"):
            return arguments
        arguments = _object(arguments)
    args = _object(arguments)
    value = args.get("input") if name == "apply_patch" else None
    if isinstance(value, str):
        return value
    command = args.get("command")
    if isinstance(command, list) and command and isinstance(command[-1], str):
        last: str = command[-1]
        if "apply_patch" in command[:-1] or last.lstrip().startswith("*** Begin Patch"):
            return last
    if isinstance(command, str) and command.lstrip().startswith("*** Begin Patch"):
        return command  # Codex's hook payload: the patch as tool_input.command
    return None


def _patch_writes(patch: str, cwd: str | None) -> Iterator[FileWrite]:
    """One FileWrite per file a patch adds or updates (deleted files write nothing)."""
    for path, lines in _sections(patch):
        if lines is None:
            continue
        body = "*** Begin Patch\n" + "".join(line + "\n" for line in lines) + "*** End Patch\n"
        added, quoted = tools.contribution("apply_patch", body)
        yield FileWrite(_absolute(path, cwd), _join(added), _join(quoted))


def _sections(patch: str) -> Iterator[tuple[str, list[str] | None]]:
    """``(path, body lines)`` per file section; ``None`` lines for a deleted file."""
    path: str | None = None
    lines: list[str] | None = None
    for line in patch.splitlines():
        header = next((h for h in SECTION if line.startswith(h)), None)
        if header is not None:
            if path is not None:
                yield path, lines
            path = line[len(header) :].strip()
            lines = None if header.startswith("*** Delete") else []
        elif line.startswith(MOVE) and path is not None:
            path = line[len(MOVE) :].strip()
        elif lines is not None and not line.startswith("*** "):
            lines.append(line)
    if path is not None:
        yield path, lines


def _absolute(path: str, cwd: str | None) -> str:
    if posixpath.isabs(path) or not cwd:
        return posixpath.normpath(path)
    return posixpath.normpath(posixpath.join(cwd, path))


def _join(texts: list[str]) -> str | None:
    return "\n".join(texts) if texts else None


def _object(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str):
        try:
            parsed = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}
