"""Which lines a change added: parse ``git diff -U0`` output into 1-based line numbers per path.

Only the new side matters: every ``@@ -a,b +c,d @@`` hunk adds lines ``c .. c+d-1`` of the new
file (``d`` defaults to 1; ``d = 0`` is a pure deletion). Deleted files, binary files and pure
renames add nothing. Paths are the new names (``+++ b/...``), C-quoted ones unquoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f"}
_ESCAPES |= {"r": "\r", "v": "\v"}


@dataclass(frozen=True)
class AddedLines:
    """The 1-based line numbers a change added to one file (sorted, unique)."""

    path: str
    lines: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.lines)


def parse_added(diff: bytes) -> dict[str, AddedLines]:
    """Added lines per new path; files that gained no line are left out."""
    found: dict[str, list[int]] = {}
    path: str | None = None
    header = False  # between ``diff --git`` and the first hunk: ``+++`` names the file there
    for raw in diff.split(b"\n"):
        if raw.startswith(b"diff --git "):
            path, header = None, True
        elif header and raw.startswith(b"+++ "):
            path = _new_path(raw[4:])
        elif raw.startswith(b"@@ "):
            header = False
            match = _HUNK.match(raw)
            if match and path is not None:
                start = int(match[1])
                count = int(match[2]) if match[2] is not None else 1
                found.setdefault(path, []).extend(range(start, start + count))
    return {p: AddedLines(p, tuple(sorted(set(lines)))) for p, lines in found.items() if lines}


def _new_path(raw: bytes) -> str | None:
    text = raw.decode("utf-8", errors="surrogateescape").rstrip("\r")
    if text == "/dev/null":
        return None
    if text.startswith('"') and text.endswith('"'):
        text = unquote_c(text[1:-1])
    return text[2:] if text.startswith("b/") else text


def unquote_c(text: str) -> str:
    """Undo git's C-style quoting of a path (``\\t``, ``\\"``, octal bytes like ``\\303\\251``)."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 >= len(text):
            out += ch.encode("utf-8", errors="surrogateescape")
            i += 1
        elif text[i + 1] in "01234567":
            out.append(int(text[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            out += _ESCAPES.get(text[i + 1], text[i + 1]).encode()
            i += 2
    return out.decode("utf-8", errors="replace")
