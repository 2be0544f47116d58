"""Insert snippets into host files at places where such a snippet could really sit."""

from __future__ import annotations

import ast
import random

from . import jslex


def _line_starts(text: str) -> list[int]:
    starts, pos = [], 0
    for line in text.splitlines(keepends=True):
        starts.append(pos)
        pos += len(line)
    return starts


def _py_points(text: str) -> list[int]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    starts = _line_starts(text)
    lines = set()
    for node in tree.body[1:]:
        decorators = getattr(node, "decorator_list", [])
        lines.add(min([node.lineno] + [d.lineno for d in decorators]))
    return [starts[n - 1] for n in sorted(lines) if n - 1 < len(starts)]


def _js_points(text: str) -> list[int]:
    spans = [
        (tok.start, tok.end)
        for tok in jslex.tokenize(text)
        if tok.kind in ("comment", "string", "template", "regex") and "\n" in tok.text
    ]
    lines = text.splitlines(keepends=True)
    starts = _line_starts(text)
    points = []
    for i in range(1, len(lines)):
        line = lines[i]
        if lines[i - 1].strip() or not line.strip() or line[0].isspace():
            continue
        if line.startswith(("}", ")", "]", "*", "/")):
            continue
        if not any(a < starts[i] < b for a, b in spans):
            points.append(starts[i])
    return points


def _prose_points(text: str) -> list[int]:
    points, fenced = [], False
    lines = text.splitlines(keepends=True)
    starts = _line_starts(text)
    for i, line in enumerate(lines):
        if line.strip().startswith(("```", "~~~")):
            fenced = not fenced
        if i and not fenced and not lines[i - 1].strip() and line.strip() and not line[0].isspace():
            points.append(starts[i])
    return points


POINTS = {"py": _py_points, "js": _js_points, "prose": _prose_points}


def insertion_points(text: str, kind: str) -> list[int]:
    return POINTS[kind](text)


def insert(host: str, snippet: str, kind: str, rng: random.Random) -> tuple[str, tuple[int, int]]:
    """Host with the snippet inserted on its own lines; returns the region of the snippet."""
    body = snippet.strip("\n")
    points = insertion_points(host, kind)
    if not host.endswith("\n"):
        host += "\n"
    if points:
        at = rng.choice(points)
        before, after = host[:at], host[at:]
        before += "" if before.endswith("\n\n") or not before else "\n"
        doc = before + body + "\n\n" + after
        return doc, (len(before), len(before) + len(body))
    before = host + "\n"
    return before + body + "\n", (len(before), len(before) + len(body))


def insert_at_top(host: str, snippet: str) -> tuple[str, tuple[int, int]]:
    """The snippet as the file's first lines (after a shebang), as license headers sit."""
    at = host.find("\n") + 1 if host.startswith("#!") else 0
    body = snippet.strip("\n")
    before, after = host[:at], host[at:]
    doc = before + body + "\n\n" + after
    return doc, (len(before), len(before) + len(body))
