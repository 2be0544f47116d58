"""Edits of Python snippets: consistent renaming, token-based reformatting, comment changes."""

from __future__ import annotations

import ast
import builtins
import io
import random
import tokenize

from .names import fresh_names

BUILTINS = set(dir(builtins))
KEEP = {"self", "cls", "_", "__class__"}


def parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _tokens(text: str) -> list[tokenize.TokenInfo] | None:
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None


def _line_offsets(text: str) -> list[int]:
    offsets, pos = [0, 0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        offsets.append(pos)
    return offsets


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Replace [start, end) ranges (non-overlapping) with new text."""
    out, last = [], 0
    for start, end, new in sorted(edits):
        out.append(text[last:start])
        out.append(new)
        last = end
    out.append(text[last:])
    return "".join(out)


# --- renaming -------------------------------------------------------------------------------


class _Binder(ast.NodeVisitor):
    """Names bound inside one function (parameters, locals, nested defs)."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.declared_outside: set[str] = set()

    def visit_arg(self, node: ast.arg) -> None:
        self.bound.add(node.arg)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.bound.add(node.id)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.bound.add(node.name)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        return  # a nested class body binds attributes, not locals

    def visit_Global(self, node: ast.Global) -> None:
        self.declared_outside.update(node.names)

    visit_Nonlocal = visit_Global  # type: ignore[assignment]


def bound_names(text: str) -> set[str]:
    """Locally bound names of the snippet's top function or class (not attributes/methods)."""
    tree = ast.parse(text)
    top = tree.body[0] if tree.body else None
    binder = _Binder()
    if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
        binder.visit(top)
    elif isinstance(top, ast.ClassDef):
        binder.bound.add(top.name)
        for item in top.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = _Binder()
                inner.generic_visit(item)  # parameters and locals, not the method name
                binder.bound |= inner.bound
                binder.declared_outside |= inner.declared_outside
    names = binder.bound - binder.declared_outside - BUILTINS - KEEP
    return {n for n in names if not (n.startswith("__") and n.endswith("__"))}


def rename(text: str, rng: random.Random, share: float = 1.0) -> str | None:
    """Consistently rename the locally bound identifiers; None when it cannot be done."""
    if not parses(text):
        return None
    names = sorted(bound_names(text))
    names = [n for n in names if rng.random() < share] or names[:1]
    toks = _tokens(text)
    if not names or toks is None:
        return None
    mapping = fresh_names(names, rng, taken=_all_names(toks), style="snake")
    out = _apply(text, _rename_edits(text, toks, mapping))
    return out if parses(out) else None


def _all_names(toks: list[tokenize.TokenInfo]) -> set[str]:
    return {t.string for t in toks if t.type == tokenize.NAME}


def _rename_edits(
    text: str, toks: list[tokenize.TokenInfo], mapping: dict[str, str]
) -> list[tuple[int, int, str]]:
    offsets = _line_offsets(text)
    sig = [
        t
        for t in toks
        if t.type
        not in (tokenize.NL, tokenize.COMMENT, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    ]
    edits, depth, header_depth = [], 0, None
    for i, tok in enumerate(sig):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.NAME and tok.string in ("def", "lambda"):
            header_depth = depth
        elif tok.type == tokenize.OP and tok.string == ":" and depth == header_depth:
            header_depth = None
        if tok.type != tokenize.NAME or tok.string not in mapping:
            continue
        prev = sig[i - 1].string if i else ""
        nxt = sig[i + 1].string if i + 1 < len(sig) else ""
        is_kwarg = nxt == "=" and depth > 0 and header_depth is None
        if prev == "." or is_kwarg:
            continue
        start = offsets[tok.start[0]] + tok.start[1]
        edits.append((start, start + len(tok.string), mapping[tok.string]))
    return edits


# --- reformatting ---------------------------------------------------------------------------


def _indent_unit(text: str) -> int:
    widths = {len(ln) - len(ln.lstrip(" ")) for ln in text.splitlines() if ln.strip()}
    widths.discard(0)
    return min(widths) if widths else 0


def reindent(text: str, rng: random.Random) -> str:
    unit = _indent_unit(text)
    if unit == 0:
        return text
    new = rng.choice([n for n in (2, 3, 4, 8) if n != unit])
    lines = []
    for line in text.splitlines():
        width = len(line) - len(line.lstrip(" "))
        lines.append(" " * (width * new // unit) + line[width:] if width % unit == 0 else line)
    return "\n".join(lines) + "\n"


def swap_quotes(text: str) -> str:
    toks = _tokens(text)
    if toks is None:
        return text
    offsets = _line_offsets(text)
    edits = []
    for tok in toks:
        if tok.type != tokenize.STRING:
            continue
        s = tok.string
        prefix = s[: len(s) - len(s.lstrip("rRbBuUfF"))]
        body = s[len(prefix) :]
        if body.startswith(('"""', "'''")) or "\\" in body[1:-1]:
            continue
        if "'" in body[1:-1] or '"' in body[1:-1] or ("{" in body and "f" in prefix.lower()):
            continue
        q = "'" if body[0] == '"' else '"'
        start = offsets[tok.start[0]] + tok.start[1]
        edits.append((start, start + len(s), prefix + q + body[1:-1] + q))
    return _apply(text, edits)


def change_blank_lines(text: str, rng: random.Random) -> str:
    """Remove blank lines, or add some after logical lines that end at depth 0."""
    lines = text.splitlines()
    if any(not ln.strip() for ln in lines[1:]) and rng.random() < 0.5:
        return "\n".join(ln for ln in lines if ln.strip()) + "\n"
    toks = _tokens(text)
    if toks is None:
        return text
    ends = [t.start[0] for t in toks if t.type == tokenize.NEWLINE]
    chosen = set(rng.sample(ends, k=min(len(ends), max(1, len(ends) // 4))))
    out = []
    for i, line in enumerate(lines, start=1):
        out.append(line)
        if i in chosen and i < len(lines):
            out.append("")
    return "\n".join(out) + "\n"


def explode_calls(text: str, rng: random.Random) -> str:
    """Put the arguments of some one-line calls on their own lines, with a trailing comma."""
    lines = text.splitlines()
    toks = _tokens(text)
    if toks is None:
        return text
    candidates = _explodable(toks)
    rng.shuffle(candidates)
    for line_no, open_col, close_col, commas in candidates[:3]:
        line = lines[line_no - 1]
        indent = line[: len(line) - len(line.lstrip())]
        inner = indent + "    "
        args, last = [], open_col + 1
        for col in [*commas, close_col]:
            arg = line[last:col].strip()
            if arg:
                args.append(inner + arg + ",")
            last = col + 1
        new = [line[: open_col + 1], *args, indent + line[close_col:]]
        trial = lines[: line_no - 1] + new + lines[line_no:]
        trial_text = "\n".join(trial) + "\n"
        if parses(trial_text):
            return trial_text
    return text


def _explodable(toks: list[tokenize.TokenInfo]) -> list[tuple[int, int, int, list[int]]]:
    """(line, open col, close col, comma cols) of one-line parenthesized lists with >= 2 items."""
    found, stack = [], []
    for tok in toks:
        if tok.type != tokenize.OP:
            continue
        if tok.string in "([{":
            stack.append((tok, []))
        elif tok.string in ")]}" and stack:
            opener, commas = stack.pop()
            same_line = opener.start[0] == tok.start[0]
            if opener.string == "(" and same_line and len(commas) >= 1 and not stack:
                found.append((tok.start[0], opener.start[1], tok.start[1], commas))
        elif tok.string == "," and stack:
            stack[-1][1].append(tok.start[1])
    return found


def reformat(text: str, rng: random.Random) -> str:
    """At least two of: re-indent, swap quotes, change blank lines, explode calls."""
    ops = [reindent, swap_quotes, change_blank_lines, explode_calls]
    chosen = rng.sample(ops, k=rng.randint(2, 4))
    out = text
    for op in ops:
        if op not in chosen:
            continue
        new = op(out, rng) if op is not swap_quotes else op(out)  # type: ignore[call-arg]
        if parses(new) or not parses(out):
            out = new
    return out


# --- comments and docstrings ----------------------------------------------------------------


def strip_comments(text: str) -> str:
    toks = _tokens(text)
    if toks is None:
        return text
    offsets = _line_offsets(text)
    edits = []
    for tok in toks:
        if tok.type == tokenize.COMMENT:
            start = offsets[tok.start[0]] + tok.start[1]
            edits.append((start, start + len(tok.string), ""))
    lines = _apply(text, edits).splitlines()
    before = text.splitlines()
    kept = [
        ln.rstrip() for ln, old in zip(lines, before, strict=False) if ln.strip() or not old.strip()
    ]
    return "\n".join(kept) + "\n"


def strip_docstrings(text: str) -> str:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    drop: set[int] = set()
    lines = text.splitlines()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or not body:
            continue
        first = body[0]
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            if len(body) == 1:
                continue  # keep the body non-empty
            drop.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    out = [ln for i, ln in enumerate(lines, start=1) if i not in drop]
    result = "\n".join(out) + "\n"
    return result if parses(result) else text


def add_comments(text: str, rng: random.Random, pool: list[str]) -> str:
    """Insert a few real comment lines (from other files) before statements."""
    lines = text.splitlines()
    toks = _tokens(text)
    if toks is None or not pool:
        return text
    starts = sorted({t.start[0] for t in toks if t.type == tokenize.NAME and t.start[0] > 1})
    stmt_lines = [
        n
        for n in starts
        if lines[n - 1].strip() and lines[n - 1].lstrip().split()[0] in _STMT_WORDS
    ]
    chosen = set(rng.sample(stmt_lines, k=min(len(stmt_lines), rng.randint(2, 4))))
    out = []
    for i, line in enumerate(lines, start=1):
        if i in chosen:
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + "# " + rng.choice(pool))
        out.append(line)
    return "\n".join(out) + "\n"


_STMT_WORDS = {"if", "for", "while", "return", "try", "with", "raise", "yield", "elif", "else:"}


def change_comments(text: str, rng: random.Random, pool: list[str]) -> str:
    """Remove comments and docstrings, or add comments, or both."""
    choice = rng.choice(["strip", "add", "strip_add"])
    out = text
    if choice.startswith("strip"):
        out = strip_docstrings(strip_comments(out))
    if choice.endswith("add"):
        out = add_comments(out, rng, pool)
    return out
