"""Edits of JavaScript snippets: renaming declarations and parameters, reformatting, comments."""

from __future__ import annotations

import random
import re

from . import jslex
from .names import fresh_names
from .pyedits import _apply

GLOBALS = {
    "require",
    "module",
    "exports",
    "window",
    "document",
    "console",
    "Math",
    "Object",
    "Array",
    "String",
    "Number",
    "Boolean",
    "JSON",
    "Promise",
    "Error",
    "TypeError",
    "RangeError",
    "Symbol",
    "Date",
    "RegExp",
    "Map",
    "Set",
    "WeakMap",
    "process",
    "Buffer",
    "global",
    "globalThis",
    "setTimeout",
    "clearTimeout",
    "setImmediate",
    "parseInt",
    "parseFloat",
    "isNaN",
    "Function",
    "Reflect",
    "Proxy",
    "NaN",
    "Infinity",
    "arguments",
    "prototype",
}


def _declared(sig: list[jslex.Tok]) -> set[str]:
    """Names declared in the snippet: functions, classes, variables, parameters."""
    names: set[str] = set()
    for i, tok in enumerate(sig):
        nxt = sig[i + 1] if i + 1 < len(sig) else None
        declares = tok.text in ("function", "class", "const", "let", "var")
        if declares and nxt is not None and nxt.kind == "ident":
            names.add(nxt.text)
        if tok.text == "(" and _is_param_list(sig, i):
            names |= _params(sig, i)
        if tok.kind == "ident" and nxt is not None and nxt.text == "=>":
            names.add(tok.text)
        if tok.text == "catch" and nxt is not None and nxt.text == "(" and i + 2 < len(sig):
            names.add(sig[i + 2].text)
    return {n for n in names if n not in jslex.RESERVED and n not in GLOBALS}


def _is_param_list(sig: list[jslex.Tok], i: int) -> bool:
    prev = sig[i - 1] if i else None
    prev2 = sig[i - 2] if i > 1 else None
    if prev is not None and prev.text == "function":
        return True
    if prev is not None and prev.kind == "ident" and prev2 is not None and prev2.text == "function":
        return True
    close = jslex.matching_close(sig, i)
    return close is not None and close + 1 < len(sig) and sig[close + 1].text == "=>"


def _params(sig: list[jslex.Tok], i: int) -> set[str]:
    close = jslex.matching_close(sig, i)
    names, depth = set(), 0
    for k in range(i + 1, close or i):
        t = sig[k]
        if t.text in "([{":
            depth += 1
        elif t.text in ")]}":
            depth -= 1
        elif depth == 0 and t.kind == "ident" and sig[k + 1].text in (",", ")", "="):
            names.add(t.text)
    return names


def rename(text: str, rng: random.Random, share: float = 1.0) -> str | None:
    toks = jslex.tokenize(text)
    sig = jslex.significant(toks)
    names = sorted(_declared(sig))
    names = [n for n in names if rng.random() < share] or names[:1]
    if not names:
        return None
    taken = {t.text for t in sig if t.kind == "ident"}
    mapping = fresh_names(names, rng, taken, style="camel")
    edits = []
    for i, tok in enumerate(sig):
        if tok.kind != "ident" or tok.text not in mapping:
            continue
        prev = sig[i - 1].text if i else ""
        nxt = sig[i + 1].text if i + 1 < len(sig) else ""
        if prev in (".", "?.") or (nxt == ":" and prev in ("{", ",")):
            continue
        edits.append((tok.start, tok.end, mapping[tok.text]))
    return _apply(text, edits) if edits else None


# --- reformatting ---------------------------------------------------------------------------


def reindent(text: str, rng: random.Random) -> str:
    widths = {len(ln) - len(ln.lstrip(" ")) for ln in text.splitlines() if ln.strip()}
    widths.discard(0)
    unit = min(widths) if widths else 0
    if unit == 0:
        return text
    new = rng.choice([n for n in (2, 4, 8) if n != unit])
    out = []
    for line in text.splitlines():
        width = len(line) - len(line.lstrip(" "))
        out.append(" " * (width * new // unit) + line[width:])
    return "\n".join(out) + "\n"


def swap_quotes(text: str) -> str:
    edits = []
    for tok in jslex.tokenize(text):
        body = tok.text[1:-1]
        if tok.kind != "string" or "\\" in body or "'" in body or '"' in body:
            continue
        q = "'" if tok.text[0] == '"' else '"'
        edits.append((tok.start, tok.end, q + body + q))
    return _apply(text, edits)


def brace_style(text: str) -> str:
    """K&R <-> Allman: move an opening brace that ends a line onto its own line, or back."""
    lines = text.splitlines()
    out: list[str] = []
    allman = any(ln.strip() == "{" for ln in lines)
    for line in lines:
        if allman and line.strip() == "{" and out and not out[-1].rstrip().endswith((";", "{")):
            out[-1] = out[-1].rstrip() + " {"
            continue
        m = re.match(r"^(\s*)(.*\S)\s*\{$", line)
        if not allman and m and m.group(2).endswith((")", "else", "try", "finally")):
            out += [m.group(1) + m.group(2), m.group(1) + "{"]
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def semicolons(text: str) -> str:
    """Drop the semicolons that end lines."""
    return "\n".join(re.sub(r";(\s*)$", r"\1", ln) for ln in text.splitlines()) + "\n"


def blank_lines(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    if any(not ln.strip() for ln in lines) and rng.random() < 0.6:
        return "\n".join(ln for ln in lines if ln.strip()) + "\n"
    out = []
    for line in lines:
        out.append(line)
        if line.rstrip().endswith(";") and rng.random() < 0.25:
            out.append("")
    return "\n".join(out) + "\n"


def reformat(text: str, rng: random.Random) -> str:
    ops = ["reindent", "quotes", "braces", "semicolons", "blank"]
    chosen = set(rng.sample(ops, k=rng.randint(2, 4)))
    out = text
    if "reindent" in chosen:
        out = reindent(out, rng)
    if "quotes" in chosen:
        out = swap_quotes(out)
    if "braces" in chosen:
        out = brace_style(out)
    if "semicolons" in chosen:
        out = semicolons(out)
    if "blank" in chosen:
        out = blank_lines(out, rng)
    return out


# --- comments -------------------------------------------------------------------------------


def strip_comments(text: str) -> str:
    toks = jslex.tokenize(text)
    edits = [(t.start, t.end, "") for t in toks if t.kind == "comment"]
    stripped = _apply(text, edits)
    kept = [ln.rstrip() for ln in stripped.splitlines() if ln.strip()]
    return "\n".join(kept) + "\n"


def add_comments(text: str, rng: random.Random, pool: list[str]) -> str:
    lines = text.splitlines()
    spots = [
        i
        for i, ln in enumerate(lines)
        if i > 0 and re.match(r"\s*(if|for|while|return|var|let|const|try|switch)\b", ln)
    ]
    if not spots or not pool:
        return text
    chosen = set(rng.sample(spots, k=min(len(spots), rng.randint(2, 4))))
    out = []
    for i, line in enumerate(lines):
        if i in chosen:
            out.append(line[: len(line) - len(line.lstrip())] + "// " + rng.choice(pool))
        out.append(line)
    return "\n".join(out) + "\n"


def change_comments(text: str, rng: random.Random, pool: list[str]) -> str:
    choice = rng.choice(["strip", "add", "strip_add"])
    out = text
    if choice.startswith("strip"):
        out = strip_comments(out)
    if choice.endswith("add"):
        out = add_comments(out, rng, pool)
    return out
