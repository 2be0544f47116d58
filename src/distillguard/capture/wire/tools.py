"""What a tool call adds, and what it quotes.

The added content is what the agent will put on disk or run: Claude Code ``Write.content``,
``Edit.new_string`` (Gemini CLI's ``write_file`` and ``replace`` alike, when they carry those
arguments), ``MultiEdit`` edits' ``new_string``, ``NotebookEdit.new_source``, the ``+`` lines
of a Codex ``apply_patch``; for any other tool, the string values of its input. The quoted
content (``Edit.old_string``, a patch's context and ``-`` lines) is the user's own text: it
goes into the output's ``request``, never attributed to the vendor.
"""

from __future__ import annotations

from typing import Any

import orjson

PATCH_MARKERS = ("*** Begin Patch", "*** End Patch", "*** Add File:", "*** Update File:",
                 "*** Delete File:", "*** Move to:", "*** End of File")  # fmt: skip


def contribution(name: str, arguments: Any) -> tuple[list[str], list[str]]:
    """``(added, quoted)`` texts of one tool call."""
    if isinstance(arguments, str):
        parsed = _json(arguments)
        if parsed is None:  # a freeform tool (Codex's custom apply_patch): its input as text
            return _patch(arguments) if _is_patch(name, arguments) else ([arguments], [])
        arguments = parsed
    if not isinstance(arguments, dict):
        return _strings(arguments), []
    return _from_input(name, arguments)


def _from_input(name: str, args: dict[str, Any]) -> tuple[list[str], list[str]]:
    if name == "Write" or (name == "write_file" and "content" in args):
        return _strings(args.get("content")), []
    if name == "Edit" or (name == "replace" and "new_string" in args):
        return _strings(args.get("new_string")), _strings(args.get("old_string"))
    if name == "MultiEdit":
        edits = [e for e in args.get("edits") or [] if isinstance(e, dict)]
        added = [s for e in edits for s in _strings(e.get("new_string"))]
        return added, [s for e in edits for s in _strings(e.get("old_string"))]
    if name == "NotebookEdit":
        return _strings(args.get("new_source")), []
    patch = _patch_argument(name, args)
    if patch is not None:
        return _patch(patch)
    return _strings(args), []


def _patch_argument(name: str, args: dict[str, Any]) -> str | None:
    """The patch text of an apply_patch call (as a function, or through the shell)."""
    value = args.get("input") if name == "apply_patch" else None
    if isinstance(value, str):
        return value
    command = args.get("command")
    if not (isinstance(command, list) and command and isinstance(command[-1], str)):
        return None
    patch: str = command[-1]
    if "apply_patch" in command[:-1] or patch.lstrip().startswith("*** Begin Patch"):
        return patch
    return None


def _is_patch(name: str, text: str) -> bool:
    return name == "apply_patch" or text.lstrip().startswith("*** Begin Patch")


def _patch(text: str) -> tuple[list[str], list[str]]:
    """Added lines (``+``, and the content of added files) and quoted ones (context, ``-``)."""
    added: list[str] = []
    quoted: list[str] = []
    for line in text.splitlines():
        if line.startswith(PATCH_MARKERS) or line.startswith("@@"):
            continue
        if line.startswith("+"):
            added.append(line[1:])
        elif line.startswith(("-", " ")):
            quoted.append(line[1:])
    return _joined(added), _joined(quoted)


def _joined(lines: list[str]) -> list[str]:
    return ["\n".join(lines) + "\n"] if lines else []


def _strings(value: Any) -> list[str]:
    """The non-empty strings in ``value`` (nested lists and dicts), in order."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _json(text: str) -> Any:
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
