"""Cut real files into units of 8-60 lines: top-level functions, methods, SQL statements, YAML
blocks, shell and Perl functions, each with the comment lines directly above it."""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

MIN_LINES, MAX_LINES = 8, 60


@dataclass
class Unit:
    lang: str
    group: str
    path: str
    line: int  # 0-based first line in the file
    text: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.path}:{self.line}"


def cut(text: str, lang: str, group: str, path: str) -> list[Unit]:
    spans = CUTTERS[lang](text)
    lines = text.split("\n")
    out = []
    for first, last, name in spans:
        first = _with_comments_above(lines, first, lang)
        body = textwrap.dedent("\n".join(lines[first : last + 1])).strip("\n")
        n = body.count("\n") + 1
        widest = max(len(line) for line in body.split("\n"))
        if MIN_LINES <= n <= MAX_LINES and len(body) <= 4000 and widest <= 200 and name:
            out.append(Unit(lang, group, path, first, body, name))
    return out


_COMMENT_LINE = {
    "python": re.compile(r"^\s*#"),
    "javascript": re.compile(r"^\s*(//|/\*|\*)"),
    "sql": re.compile(r"^\s*(--|/\*|\*)"),
    "bash": re.compile(r"^\s*#(?!!)"),
    "perl": re.compile(r"^\s*#(?!!)"),
    "yaml": re.compile(r"^\s*#"),
}


_LICENSE = re.compile(r"copyright|licen[cs]e|warrant|SPDX", re.I)


def _with_comments_above(lines: list[str], first: int, lang: str) -> int:
    """``first`` moved up over the comment lines directly above it, unless they hold a license
    notice (boilerplate no one writes for the occasion)."""
    pattern = _COMMENT_LINE[lang]
    top = first
    while top > 1 and pattern.match(lines[top - 1]):
        top -= 1
    return first if _LICENSE.search("\n".join(lines[top:first])) else top


def _python(text: str) -> list[tuple[int, int, str]]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    spans = []
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for node in tree.body:
        if not isinstance(node, defs):
            continue
        first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        last = (node.end_lineno or node.lineno) - 1
        if last - first + 1 <= MAX_LINES:
            spans.append((first, last, node.name))
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, defs):
                    a = min([sub.lineno] + [d.lineno for d in sub.decorator_list]) - 1
                    spans.append((a, (sub.end_lineno or sub.lineno) - 1, sub.name))
    return spans


# (start pattern, end pattern for a line at the same indentation); group 1 is the name
_BRACED = {
    "javascript": [
        (
            r"^(\s{0,2})(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([\w$]+)\s*\(",
            r"^[}\)]",
        ),
        (
            r"^(\s{0,2})(?:const|let|var)\s+([\w$]+)\s*=\s*(?:async\s*)?(?:function\b|\(|[\w$]+\s*=>)",
            r"^[}\)]",
        ),
        (r"^(\s{0,2})(?:module\.)?exports\.([\w$]+)\s*=", r"^[}\)]"),
        (r"^(\s{0,2})(?:export\s+)?class\s+([\w$]+)", r"^}"),
        (r"^(\s{2})(?:static\s+)?(?:async\s+)?\*?(#?[\w$]+)\s*\([^;]*\)\s*\{\s*$", r"^}"),
    ],
    "perl": [(r"^()sub\s+(\w+)", r"^}")],
    "bash": [
        (r"^()(?:function\s+)?([A-Za-z_][\w:.-]*)\s*\(\s*\)\s*\{?\s*$", r"^}"),
        (r"^()function\s+([A-Za-z_][\w:.-]*)\s*\{?\s*$", r"^}"),
        (r"^()(if|case|for|while)\b", r"^(fi|esac|done)\b"),
    ],
}


def _braced(lang: str):
    rules = [(re.compile(a), re.compile(b)) for a, b in _BRACED[lang]]

    def cutter(text: str) -> list[tuple[int, int, str]]:
        lines = text.split("\n")
        spans, i = [], 0
        while i < len(lines):
            for start, end in rules:
                m = start.match(lines[i])
                if not m or lines[i].rstrip().endswith((";", ",")):
                    continue  # not a start, or a one-line statement
                indent = m.group(1)
                j = i + 1
                while j < len(lines):
                    line = lines[j]
                    if line.startswith(indent) and end.match(line[len(indent) :]):
                        break
                    if line.strip() and not line.startswith(indent):
                        j = len(lines)
                    j += 1
                if j < len(lines) and j - i < 200:
                    name = m.group(2)
                    if name in ("if", "case", "for", "while"):
                        name = _first_word(lines[i], skip=name)
                    spans.append((i, j, name))
                    i = j
                break
            i += 1
        return spans

    return cutter


def _first_word(line: str, skip: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z_]\w{2,}", line) if w != skip]
    return words[0] if words else skip


CREATE = re.compile(
    r"\b(?:CREATE|ALTER|DROP)\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?"
    r"(?:(?:SQL\s+SECURITY\s+\w+\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?)*"
    r"(?:FUNCTION|VIEW|TABLE|TYPE|AGGREGATE|PROCEDURE|OPERATOR\s+CLASS|OPERATOR|TRIGGER|INDEX"
    r"|DOMAIN|SCHEMA|CAST)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?([\w.\"`$]+)",
    re.I,
)
_DOLLAR = re.compile(r"\$(\w*)\$")


def _sql(text: str) -> list[tuple[int, int, str]]:
    lines = text.split("\n")
    spans = []
    delim, dollar, start = ";", None, None
    for i, line in enumerate(lines):
        stripped = line.strip()
        m = re.match(r"DELIMITER\s+(\S+)", stripped, re.I)
        if m and dollar is None:
            delim, start = m.group(1), None
            continue
        if start is None:
            if not stripped or stripped.startswith(("--", "\\", "/*", "*")):
                continue
            start = i
        if delim == ";":
            for tag in _DOLLAR.findall(line.split("--")[0] if dollar is None else line):
                if dollar is None:
                    dollar = tag
                elif tag == dollar:
                    dollar = None
        if dollar is None and stripped.endswith(delim) and not stripped.startswith("--"):
            statement = "\n".join(lines[start : i + 1])
            m = CREATE.search(statement)
            spans.append((start, i, m.group(1).strip('"`').split(".")[-1] if m else ""))
            start = None
    return spans


def _yaml(text: str) -> list[tuple[int, int, str]]:
    lines = text.split("\n")
    tops = [
        i
        for i, line in enumerate(lines)
        if line and not line[0].isspace() and not line.startswith(("#", "---", "..."))
    ]
    spans: list[tuple[int, int, str]] = []
    for a, b in zip(tops, [*tops[1:], len(lines)][: len(tops)], strict=True):
        last = b - 1
        while last > a and (not lines[last].strip() or lines[last].lstrip().startswith("#")):
            last -= 1
        m = re.match(r"^-?\s*([\w.-]+)\s*:", lines[a])
        spans.append((a, last, m.group(1) if m else ""))
    return spans


CUTTERS = {
    "python": _python,
    "javascript": _braced("javascript"),
    "perl": _braced("perl"),
    "bash": _braced("bash"),
    "sql": _sql,
    "yaml": _yaml,
}


def names_in_sql(text: str) -> set[str]:
    """Relations a SQL statement reads or writes (after FROM, JOIN, INTO, UPDATE, ON TABLE)."""
    found = re.findall(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+([\w.]+)", text, re.I)
    return {f.split(".")[-1].lower() for f in found if not f.isdigit()} - {
        "select",
        "public",
        "function",
        "only",
    }
