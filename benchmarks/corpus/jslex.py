"""A small JavaScript lexer: enough to tell code from strings, comments and regex literals."""

from __future__ import annotations

import re
from dataclasses import dataclass

KEYWORDS_BEFORE_EXPR = {
    "return",
    "typeof",
    "case",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "instanceof",
    "else",
    "do",
    "yield",
    "await",
}
RESERVED = KEYWORDS_BEFORE_EXPR | {
    "function",
    "class",
    "const",
    "let",
    "var",
    "if",
    "for",
    "while",
    "switch",
    "break",
    "continue",
    "try",
    "catch",
    "finally",
    "this",
    "super",
    "null",
    "undefined",
    "true",
    "false",
    "import",
    "export",
    "default",
    "extends",
    "static",
    "get",
    "set",
    "async",
    "arguments",
    "debugger",
    "with",
}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*|/\*[\s\S]*?(?:\*/|\Z))
  | (?P<string>'(?:\\[\s\S]|[^'\\\n])*'|"(?:\\[\s\S]|[^"\\\n])*")
  | (?P<template>`(?:\\[\s\S]|[^`\\])*`)
  | (?P<ident>[A-Za-z_$][\w$]*)
  | (?P<num>\d[\w.]*|\.\d[\w]*)
  | (?P<punct>=>|\.\.\.|[^\s])
    """,
    re.VERBOSE,
)
_REGEX = re.compile(r"/(?:\\.|\[(?:\\.|[^\]\\\n])*\]|[^/\\\n\[])+/[A-Za-z]*")


@dataclass(frozen=True)
class Tok:
    kind: str  # ws comment string template ident num punct regex
    text: str
    start: int
    end: int


def _regex_allowed(prev: Tok | None) -> bool:
    if prev is None:
        return True
    if prev.kind in ("num", "string", "template", "regex"):
        return False
    if prev.kind == "ident":
        return prev.text in KEYWORDS_BEFORE_EXPR
    return prev.text not in (")", "]", "}")


def tokenize(text: str) -> list[Tok]:
    """All tokens, whitespace and comments included, covering ``text`` exactly."""
    toks: list[Tok] = []
    prev: Tok | None = None
    pos = 0
    while pos < len(text):
        if text[pos] == "/" and text[pos : pos + 2] not in ("//", "/*") and _regex_allowed(prev):
            m = _REGEX.match(text, pos)
            if m:
                tok = Tok("regex", m.group(), pos, m.end())
                toks.append(tok)
                prev, pos = tok, m.end()
                continue
        m = _TOKEN.match(text, pos)
        assert m is not None and m.lastgroup is not None
        tok = Tok(m.lastgroup, m.group(), pos, m.end())
        toks.append(tok)
        if tok.kind not in ("ws", "comment"):
            prev = tok
        pos = m.end()
    return toks


def significant(toks: list[Tok]) -> list[Tok]:
    return [t for t in toks if t.kind not in ("ws", "comment")]


def matching_close(sig: list[Tok], open_index: int) -> int | None:
    """Index in ``sig`` of the bracket closing the one at ``open_index``."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    opener = sig[open_index].text
    closer = pairs[opener]
    depth = 0
    for i in range(open_index, len(sig)):
        t = sig[i].text
        if sig[i].kind != "punct":
            continue
        if t == opener:
            depth += 1
        elif t == closer:
            depth -= 1
            if depth == 0:
                return i
    return None
