"""Agent edits: a coding agent's trivial Edit must not flag the company file it edited.

    .venv/bin/python benchmarks/agent_edits.py --label v6 [--seed 1] [--python 300]
        [--javascript 150] [--controls 200] [--work DIR] [--out FILE]
    PYTHONPATH=/path/to/other/tree/src .venv/bin/python benchmarks/agent_edits.py --label base

The CLI runs in its own process as ``python -c "from distillguard.cli import main; ..."``, so
``PYTHONPATH`` picks the code under test (the results name the tree and its commit).

**Company code** is real source no model wrote: Python files of the stdlib (subpackages and
top-level modules; no ``test``/``tests``/``idle_test``, ``encodings`` or ``pydoc_data``) and
JavaScript files of the npm packages ``benchmarks/quality.py`` installs into
``benchmarks/.work/npm`` (no ``.min.js``, no test or locale directories, at most 12 files of a
package); each file UTF-8, 80-3000 lines, no line over 300 characters, and sharing under 20% of
its longer lines with a file already taken (so no two files are copies of each other).

**Edits** are made as Claude Code's ``Edit`` tool makes them: a spot in a file, ``old_string``
= 8-40 lines around it (unique in the file), ``new_string`` = the same lines with the change.
Trivial: ``add_import`` (one import line), ``flip_condition`` (``==``/``!=``, ``<``/``>=``,
``>``/``<=``, ``and``/``or``, ``&&``/``||`` on one condition line), ``change_constant`` (one
number or string literal), ``add_comment`` (one comment line), ``edit_2_3_lines`` (a guard
clause of 2-3 lines at the start of a function, sometimes with a log line). Substantial:
``add_function_10_30`` (a real function or method of 10-30 lines inserted before a function or
method of the file) and ``rewrite_block`` (10-20 consecutive lines of a function body replaced
by 10-20 real lines of another function's body). The inserted code comes from *donor* files
that are never scanned (Python: the venv's site-packages, vendored copies left out; JavaScript:
a quarter of the npm packages, drawn by seed) and shares under 20% of its longer lines with the
scanned files, so it exists only in the edited file and in the answer. A Python edit must leave
its file parseable.

**Recorded**: each answer as one output (vendor anthropic, model claude-x): a short line of
prose, a blank line, ``new_string``; its ``request`` is ``old_string`` (what the hook and the
transcript import store). **Scanned**: one directory (a repository) with every edited file and
the untouched *controls*, ``distillguard scan DIR --out OUT --workers 1``, in a fresh SQLite
``DISTILLGUARD_HOME`` under the work directory.

**Scored**, per language and edit type: the share of edited files flagged (trivial: target 0;
substantial: should be high), for substantial edits the median containment and the share of
the matched characters (union of the document's spans) that lie on the added lines, and the
share of controls flagged (target 0). Every flagged trivial edit, missed substantial edit and
flagged control is listed in ``WORK/details.json``; the edits themselves in ``WORK/edits.json``.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import random
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import time
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402  (benchmarks/report.py: the machine description)

RUN = "import sys; from distillguard.cli import main; sys.argv[0]='distillguard'; main()"
NPM = HERE / ".work" / "npm" / "node_modules"
TRIVIAL = ("add_import", "flip_condition", "change_constant", "add_comment", "edit_2_3_lines")
SUBSTANTIAL = ("add_function_10_30", "rewrite_block")
EDITS = TRIVIAL + SUBSTANTIAL
LANGS = ("python", "javascript")
SKIP_DIRS = {"test", "tests", "idle_test", "__tests__", "encodings", "pydoc_data", "locale",
             "locales", "i18n", "site-packages", "__pycache__", "node_modules"}  # fmt: skip
DONOR_SKIP = SKIP_DIRS | {"distillguard", "_vendor", "vendor", "_distutils", "extern"}
MIN_LINES, MAX_LINES, MAX_WIDTH = 80, 3000, 300
PER_PACKAGE = 12  # JavaScript files of one npm package, at most
OVERLAP = 0.2  # at most this share of a file's (or donor's) longer lines seen already
SIG_LEN = 25  # a line this long (stripped) counts in the overlap checks
TRIES = 8  # spots tried per file and edit type

PROSE = {
    "add_import": ["I'll add the `{x}` import.", "Adding the missing import for `{x}`.",
                   "First, import `{x}`.", "Let me add the import at the top."],
    "flip_condition": ["I'll flip that comparison.", "The condition is inverted; fixing it.",
                       "Let me fix the check: it should use `{x}`.",
                       "Switching the operator to `{x}`."],
    "change_constant": ["I'll update the constant.", "Changing the value to {x}.",
                        "Let me bump that value.", "Updating the literal as requested."],
    "add_comment": ["I'll add a short comment here.", "Adding a comment to explain this.",
                    "Let me document this step.", "A comment makes this clearer."],
    "edit_2_3_lines": ["I'll add a guard for a missing `{x}`.",
                       "Adding an early return when `{x}` is empty.",
                       "Let me handle the missing `{x}` case first.",
                       "I'll return early if `{x}` isn't set."],
    "add_function_10_30": ["I'll add a `{x}` helper.", "Adding the `{x}` function.",
                           "Let me add `{x}` here.", "Here is a new function, `{x}`."],
    "rewrite_block": ["I'll rewrite this block.", "Let me restructure this part.",
                      "Replacing this section with a simpler version.",
                      "Rewriting this logic as follows."],
}  # fmt: skip
COMMENTS = [
    "Keep this in sync with the parser below.", "Order matters here.",
    "Fall back to the default when unset.", "TODO: handle the empty case.",
    "Cache the result for later lookups.", "This path is hot; avoid extra allocations.",
    "Callers rely on this being idempotent.", "See the note at the top of the module.",
    "Normalize before comparing.", "Do not reorder: the next step depends on it.",
    "Guard against partial input.", "Kept for backwards compatibility.",
    "Errors here are reported by the caller.", "NOTE: this mutates the argument.",
    "Cheap check first.", "Legacy behaviour, see the changelog.",
]  # fmt: skip
PY_IMPORTS = [
    ("functools", ["lru_cache", "partial", "wraps"]), ("itertools", ["chain", "islice"]),
    ("logging", []), ("warnings", []), ("typing", ["Any", "Optional", "Iterable"]),
    ("collections", ["defaultdict", "deque", "OrderedDict"]), ("contextlib", ["suppress"]),
    ("dataclasses", ["dataclass", "field"]), ("threading", []), ("time", []), ("weakref", []),
    ("operator", ["itemgetter", "attrgetter"]), ("enum", ["Enum"]), ("json", []), ("math", []),
    ("copy", ["deepcopy"]), ("textwrap", ["dedent"]), ("pathlib", ["Path"]), ("heapq", []),
    ("bisect", ["bisect_left"]), ("inspect", []), ("shutil", []), ("struct", []), ("os", []),
    ("re", []), ("sys", []), ("types", ["SimpleNamespace"]), ("abc", ["ABC", "abstractmethod"]),
]  # fmt: skip
JS_IMPORTS = [("path", "path"), ("util", "util"), ("fs", "fs"), ("os", "os"),
              ("events", "EventEmitter"), ("assert", "assert"), ("crypto", "crypto"),
              ("url", "url"), ("stream", "stream"), ("zlib", "zlib"), ("buffer", "buffer"),
              ("querystring", "querystring"), ("http", "http"),
              ("child_process", "cp")]  # fmt: skip
PY_FLIP = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">", "and": "or",
           "or": "and"}  # fmt: skip
JS_FLIP = {"===": "!==", "!==": "===", "==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=",
           "<=": ">", "&&": "||", "||": "&&"}  # fmt: skip
PY_COND = {"if", "elif", "while", "return", "assert"}
JS_OP = re.compile(r" (===|!==|==|!=|<=|>=|<|>|&&|\|\|) ")
JS_COND = re.compile(r"^\s*(\}\s*else\s+if\s*\(|else\s+if\s*\(|if\s*\(|while\s*\(|return\s)")
JS_FUNC = re.compile(
    r"^(\s*)(?:export\s+)?(?:async\s+)?function\s*\*?\s*([\w$]*)\s*\(([^()]*)\)\s*\{\s*$"
)
JS_METHOD = re.compile(
    r"^(\s+)(?:static\s+)?(?:async\s+)?(?:get\s+|set\s+)?([A-Za-z_$][\w$]*)\s*\(([^()]*)\)\s*\{\s*$"
)
JS_ARROW = re.compile(
    r"^(\s*)(?:const|let|var)\s+([\w$]+)\s*=\s*(?:async\s*)?\(([^()]*)\)\s*=>\s*\{\s*$"
)
JS_REQUIRE = re.compile(r"^(const|let|var)\s+[\w${}\s,:]+=\s*require\((['\"])[^'\"]+\2\)(;?)\s*$")
JS_ESM = re.compile(r"^import\s.*\sfrom\s+(['\"])[^'\"]+\1(;?)\s*$")
JS_KEYWORDS = {"if", "for", "while", "switch", "catch", "function", "return", "with", "else"}
IDENT = re.compile(r"^[A-Za-z_$][\w$]*$")


# --- sources --------------------------------------------------------------------------------


@dataclass
class Source:
    lang: str
    rel: str  # its path in the scanned repository
    package: str
    text: str
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lines = self.text.split("\n")


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def sig_lines(lines: list[str]) -> list[str]:
    return [s for s in (line.strip() for line in lines) if len(s) >= SIG_LEN]


def overlap(lines: list[str], seen: set[str]) -> float:
    sig = sig_lines(lines)
    return sum(s in seen for s in sig) / len(sig) if sig else 0.0


def read_ok(path: Path, *, min_lines: int = MIN_LINES) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.split("\n")
    if "\r" in text or "\x00" in text or not min_lines <= len(lines) <= MAX_LINES:
        return None
    if max(map(len, lines)) > MAX_WIDTH:
        return None
    return text


def python_sources() -> list[Source]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib)
        if SKIP_DIRS & set(rel.parts[:-1]) or not path.is_file():
            continue
        text = read_ok(path)
        if text is None:
            continue
        try:
            ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        package = rel.parts[0].removesuffix(".py")
        out.append(Source("python", f"py/{rel.as_posix()}", package, text))
    return out


def npm_package(rel: Path) -> str:
    return "/".join(rel.parts[:2]) if rel.parts[0].startswith("@") else rel.parts[0]


def javascript_files() -> dict[str, list[Path]]:
    if not NPM.is_dir():
        sys.exit(f"{NPM} is missing: run benchmarks/quality.py once first (it installs them)")
    by_package: dict[str, list[Path]] = {}
    for path in sorted(NPM.rglob("*.js")):
        rel = path.relative_to(NPM)
        if path.name.endswith(".min.js") or SKIP_DIRS & set(rel.parts[:-1]) or not path.is_file():
            continue
        by_package.setdefault(npm_package(rel), []).append(path)
    return by_package


def javascript_sources(paths: list[Path]) -> list[Source]:
    out = []
    for path in paths:
        text = read_ok(path)
        if text is not None:
            rel = path.relative_to(NPM)
            out.append(Source("javascript", f"js/{rel.as_posix()}", npm_package(rel), text))
    return out


def distinct(sources: list[Source], seen: set[str], limit: int) -> list[Source]:
    """The first ``limit`` sources sharing under OVERLAP of their longer lines with earlier ones."""
    taken = []
    for src in sources:
        if len(taken) == limit:
            break
        if overlap(src.lines, seen) < OVERLAP:
            taken.append(src)
            seen.update(sig_lines(src.lines))
    return taken


# --- code structure -------------------------------------------------------------------------


@dataclass
class PyInfo:
    tree: ast.Module
    stmt_rows: dict[int, str]  # 0-based row where a logical line starts -> its first token
    tokens: list[tokenize.TokenInfo]


_py_cache: dict[str, PyInfo] = {}


def py_info(src: Source) -> PyInfo:
    info = _py_cache.get(src.rel)
    if info is None:
        tokens = list(tokenize.generate_tokens(io.StringIO(src.text).readline))
        rows: dict[int, str] = {}
        at_start = True
        skip = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
        for tok in tokens:
            if tok.type == tokenize.NEWLINE:
                at_start = True
            elif tok.type not in skip and at_start:
                rows[tok.start[0] - 1] = tok.string
                at_start = False
        info = PyInfo(ast.parse(src.text), rows, tokens)
        _py_cache[src.rel] = info
    return info


def first_line(node: ast.stmt) -> int:
    """0-based first line of a statement, decorators included."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)]) - 1


FuncNode = ast.FunctionDef | ast.AsyncFunctionDef


def py_functions(tree: ast.Module) -> Iterator[tuple[str, FuncNode]]:
    """(kind, node): module-level functions and methods of module-level classes, then nested."""
    for node in tree.body:
        if isinstance(node, FuncNode):
            yield "function", node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, FuncNode):
                    yield "method", item


def py_body_runs(node: FuncNode, lo: int, hi: int) -> list[tuple[int, int]]:
    """0-based [start, end) line ranges of consecutive body statements spanning lo-hi lines."""
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    runs = []
    for i, first in enumerate(body):
        for last in body[i:]:
            start, end = first_line(first), last.end_lineno or last.lineno
            if end - start > hi:
                break
            if end - start >= lo:
                runs.append((start, end))
    return runs


def js_block_end(lines: list[str], i: int) -> int | None:
    """The line closing the block opened at the end of line i (same indent, ``}``)."""
    ind = indent_of(lines[i])
    for j in range(i + 1, len(lines)):
        line = lines[j]
        if not line.strip():
            continue
        if indent_of(line) == ind and line.strip() in ("}", "};", "},"):
            return j
        if len(indent_of(line)) <= len(ind):
            return None
    return None


def js_functions(lines: list[str]) -> Iterator[tuple[str, int, int, str, str]]:
    """(kind, sig row, closing row, name, params) of one-line-signature functions/methods."""
    for i, line in enumerate(lines):
        m = JS_FUNC.match(line) or JS_ARROW.match(line)
        kind = "function"
        if m is None:
            m = JS_METHOD.match(line)
            kind = "method"
            if m is None or m.group(2) in JS_KEYWORDS:
                continue
        end = js_block_end(lines, i)
        if end is not None:
            yield kind, i, end, m.group(2), m.group(3)


def js_stmt_start(lines: list[str], i: int) -> bool:
    """Line i plausibly starts a statement: the previous code line ended one."""
    s = lines[i].strip()
    if not s or s.startswith(("*", "/*", "//", ".", ")", "]", "}", "+", "-", "?", ":", "&", "|")):
        return False
    if re.match(r"(else|catch|finally|case|default)\b", s):
        return False
    for j in range(i - 1, -1, -1):
        p = lines[j].strip()
        if p:
            return p.endswith((";", "{", "}")) and not p.startswith(("*", "/*", "//"))
    return True


def js_body_runs(lines: list[str], sig: int, end: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """[start, end) runs of lo-hi lines of a function body at its body indent."""
    body = [k for k in range(sig + 1, end) if lines[k].strip()]
    if not body:
        return []
    ind = indent_of(lines[body[0]])
    starts = [k for k in body if indent_of(lines[k]) == ind and js_stmt_start(lines, k)]
    runs = []
    for s in starts:
        for e in [*starts, end]:
            if e - s > hi:
                break
            if e - s < lo or not lines[e - 1].strip().endswith((";", "}")):
                continue
            if all(not lines[k].strip() or lines[k].startswith(ind) for k in range(s, e)):
                runs.append((s, e))
    return runs


def reindent(block: list[str], base: str, to: str) -> list[str] | None:
    if any(line.strip() and not line.startswith(base) for line in block):
        return None
    return [to + line[len(base) :] if line.strip() else "" for line in block]


def code_lines(block: list[str], comment: str) -> int:
    return sum(1 for line in block if line.strip() and not line.strip().startswith(comment))


# --- donors ---------------------------------------------------------------------------------


@dataclass
class Donor:
    origin: str  # file:first line (1-based)
    kind: str  # function | method | block
    name: str
    lines: list[str]  # dedented


class Donors:
    """Real functions and body blocks from files that are never scanned, each used once."""

    def __init__(self, lang: str, paths: list[Path], seen: set[str], rng: random.Random):
        self.lang, self.paths, self.seen, self.rng = lang, paths, seen, rng
        self.pos = {"function": 0, "block": 0}
        self.comment = "#" if lang == "python" else "//"

    def take(self, want: str) -> Donor | None:
        """A function/method (want="function") or a body block (want="block")."""
        for _ in range(len(self.paths)):
            path = self.paths[self.pos[want] % len(self.paths)]
            self.pos[want] += 1
            found = self._candidates(path, want)
            self.rng.shuffle(found)
            for donor in found:
                if overlap(donor.lines, self.seen) < OVERLAP:
                    self.seen.update(sig_lines(donor.lines))
                    return donor
        return None

    def _candidates(self, path: Path, want: str) -> list[Donor]:
        text = read_ok(path, min_lines=10)
        if text is None:
            return []
        lines = text.split("\n")
        name = path.as_posix()
        out: list[Donor] = []
        if self.lang == "python":
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError):
                return []
            for kind, node in py_functions(tree):
                if want == "function":
                    start, end = first_line(node), node.end_lineno or node.lineno
                    block = reindent(lines[start:end], " " * node.col_offset, "")
                    if 10 <= end - start <= 30 and block is not None:
                        out.append(Donor(f"{name}:{start + 1}", kind, node.name, block))
                    continue
                for start, end in py_body_runs(node, 10, 20):
                    base = indent_of(lines[start])
                    block = reindent(lines[start:end], base, "")
                    if block is not None:
                        out.append(Donor(f"{name}:{start + 1}", "block", node.name, block))
        else:
            for kind, sig, end, fname, _ in js_functions(lines):
                if want == "function":
                    block = reindent(lines[sig : end + 1], indent_of(lines[sig]), "")
                    if 10 <= end + 1 - sig <= 30 and block is not None and fname:
                        out.append(Donor(f"{name}:{sig + 1}", kind, fname, block))
                    continue
                for start, stop in js_body_runs(lines, sig, end, 10, 20):
                    block = reindent(lines[start:stop], indent_of(lines[start]), "")
                    if block is not None:
                        out.append(Donor(f"{name}:{start + 1}", "block", fname, block))
        return [d for d in out if code_lines(d.lines, self.comment) >= 8]


# --- edits ----------------------------------------------------------------------------------


@dataclass
class Change:
    start: int  # 0-based [start, end) lines replaced by new_lines
    end: int
    new_lines: list[str]
    subject: str  # what the prose names
    donor: str | None = None


@dataclass
class Edit:
    id: str
    lang: str
    rel: str
    kind: str
    old_string: str
    new_string: str
    prose: str
    added: tuple[int, int]  # [start, end) characters of the added/changed lines, edited file
    context_lines: int  # lines of old_string
    added_lines: int
    removed_lines: int
    donor: str | None = None

    @property
    def answer(self) -> str:
        return f"{self.prose}\n\n{self.new_string}"


Maker = Callable[[Source, random.Random, "Donors"], Change | None]


def apply(src: Source, change: Change, rng: random.Random) -> tuple[str, str, str, int] | None:
    """(old_string, new_string, edited text, offset of the added lines) or None."""
    lines, text = src.lines, src.text
    replaced = change.end - change.start
    total = rng.randint(max(8, replaced), max(8, replaced, 40))
    before = rng.randint(0, total - replaced)
    a = max(0, change.start - before)
    b = min(len(lines), a + total)
    a = max(0, min(a, b - total))
    while True:
        old = "\n".join(lines[a:b])
        offset = len("\n".join(lines[:a])) + (1 if a else 0)
        if text.find(old) == offset and text.find(old, offset + 1) == -1 and old.strip():
            break
        if b < len(lines):
            b += 1
        elif a > 0:
            a -= 1
        else:
            return None
    head = lines[a : change.start]
    new = "\n".join(head + change.new_lines + lines[change.end : b])
    if new == old:
        return None
    edited = text[:offset] + new + text[offset + len(old) :]
    added_at = offset + sum(len(line) + 1 for line in head)
    return old, new, edited, added_at


def py_add_import(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    tree = py_info(src).tree
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    options = []
    for module, names in PY_IMPORTS:
        if f"import {module}" in src.text or f"from {module} import" in src.text:
            continue
        options.append(f"import {module}")
        options += [f"from {module} import {n}" for n in names if n not in src.text]
    if not imports or not options:
        return None
    after = rng.choice(imports)
    line = rng.choice(options)
    row = after.end_lineno or after.lineno
    return Change(row, row, [line], line.split()[-1])


def py_flip_condition(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    info = py_info(src)
    spots = []
    for tok in info.tokens:
        row = tok.start[0] - 1
        if tok.start[0] != tok.end[0] or info.stmt_rows.get(row) not in PY_COND:
            continue
        if (tok.type == tokenize.OP or tok.string in ("and", "or")) and tok.string in PY_FLIP:
            spots.append(tok)
    if not spots:
        return None
    tok = rng.choice(spots)
    row, col = tok.start[0] - 1, tok.start[1]
    line = src.lines[row]
    new = line[:col] + PY_FLIP[tok.string] + line[col + len(tok.string) :]
    return Change(row, row + 1, [new], PY_FLIP[tok.string])


def changed_literal(literal: str, rng: random.Random) -> str | None:
    """A number or string literal changed (None if it is neither, or an f-string)."""
    if literal.isdigit():
        n = int(literal)
        return str(n + 1 if n < 8 else n * 2)
    m = re.fullmatch(r"([rRbBuU]{0,2})(['\"])([^'\"\\\n]{2,40})\2", literal)
    if m is None or not re.search(r"[A-Za-z]", m.group(3)):
        return None
    word = rng.choice(["value", "item", "default", "entry", "extra", "data"])
    body = f"{m.group(3)} {word}" if " " in m.group(3) else f"{m.group(3)}_{word}"
    return f"{m.group(1)}{m.group(2)}{body}{m.group(2)}"


def py_change_constant(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    info = py_info(src)
    spots = []
    for tok in info.tokens:
        if tok.type not in (tokenize.NUMBER, tokenize.STRING) or tok.start[0] != tok.end[0]:
            continue
        row = tok.start[0] - 1
        if src.lines[row].strip().startswith(tok.string):  # a docstring or bare expression
            continue
        if changed_literal(tok.string, rng) is not None:
            spots.append(tok)
    if not spots:
        return None
    tok = rng.choice(spots)
    row, col = tok.start[0] - 1, tok.start[1]
    new_literal = changed_literal(tok.string, rng) or tok.string
    line = src.lines[row]
    new = line[:col] + new_literal + line[col + len(tok.string) :]
    return Change(row, row + 1, [new], new_literal)


def py_add_comment(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    rows = sorted(py_info(src).stmt_rows)
    if not rows:
        return None
    row = rng.choice(rows)
    return Change(row, row, [f"{indent_of(src.lines[row])}# {rng.choice(COMMENTS)}"], "")


def py_edit_2_3_lines(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    spots = []
    for node in ast.walk(py_info(src).tree):
        if not isinstance(node, FuncNode):
            continue
        params = [a.arg for a in node.args.posonlyargs + node.args.args]
        params = [p for p in params if p not in ("self", "cls")]
        body = list(node.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        if not params or not body or first_line(body[0]) <= node.lineno - 1:
            continue
        if not src.lines[node.lineno - 1].rstrip().endswith(":"):
            continue
        spots.append((node, params[0], first_line(body[0])))
    if not spots:
        return None
    node, param, row = rng.choice(spots)
    ind = indent_of(src.lines[row])
    guard = rng.choice([
        [f"{ind}if {param} is None:", f"{ind}    return None"],
        [f"{ind}if not {param}:", f"{ind}    return {rng.choice(['None', '[]', 'False'])}"],
        [f"{ind}if {param} is None:", f'{ind}    raise ValueError("{param} is required")'],
    ])  # fmt: skip
    if rng.random() < 0.4:
        guard.append(f'{ind}logger.debug("{node.name}: %r", {param})')
    return Change(row, row, guard, param)


def py_add_function(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    donor = donors.take("function")
    if donor is None:
        return None
    tree = py_info(src).tree
    spots: dict[str, list[tuple[int, str]]] = {"function": [], "method": []}
    for node in tree.body:
        if isinstance(node, FuncNode | ast.ClassDef):
            spots["function"].append((first_line(node), ""))
    for kind, node in py_functions(tree):
        if kind == "method":
            spots["method"].append((first_line(node), " " * node.col_offset))
    other = "function" if donor.kind == "method" else "method"
    ok = [
        (r, i) for r, i in spots[donor.kind] or spots[other] if r and not src.lines[r - 1].strip()
    ]
    if not ok:
        return None
    row, ind = rng.choice(ok)
    block = [ind + line if line else "" for line in donor.lines]
    blank = [""] * (2 if not ind else 1)
    return Change(row, row, block + blank, donor.name, donor.origin)


def py_rewrite_block(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    lines = src.lines
    runs = [r for _, node in py_functions(py_info(src).tree) for r in py_body_runs(node, 10, 20)]
    if not runs:
        return None
    donor = donors.take("block")
    if donor is None:
        return None
    start, end = rng.choice(runs)
    ind = indent_of(lines[start])
    block = [ind + line if line else "" for line in donor.lines]
    return Change(start, end, block, donor.name, donor.origin)


def js_add_import(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    spots = [(i, m) for i, line in enumerate(src.lines) if (m := JS_REQUIRE.match(line))]
    esm = not spots
    if esm:
        spots = [(i, m) for i, line in enumerate(src.lines) if (m := JS_ESM.match(line))]
    options = [(mod, var) for mod, var in JS_IMPORTS
               if f"'{mod}'" not in src.text and f'"{mod}"' not in src.text
               and f"node:{mod}" not in src.text]  # fmt: skip
    if not spots or not options:
        return None
    row, m = rng.choice(spots)
    mod, var = rng.choice(options)
    if esm:
        q, semi = m.group(1), m.group(2)
        line = f"import {var} from {q}node:{mod}{q}{semi}"
    else:
        keyword, q, semi = m.group(1), m.group(2), m.group(3)
        target = "{ EventEmitter }" if var == "EventEmitter" else var
        line = f"{keyword} {target} = require({q}{mod}{q}){semi}"
    return Change(row + 1, row + 1, [line], mod)


def js_plain(line: str) -> bool:
    """No string, template, comment or regex literal that could hide an operator."""
    return not any(c in line for c in "'\"`/")


def js_flip_condition(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    spots = []
    for i, line in enumerate(src.lines):
        if JS_COND.match(line) and js_plain(line):
            spots += [(i, m) for m in JS_OP.finditer(line)]
    if not spots:
        return None
    i, m = rng.choice(spots)
    line, op = src.lines[i], m.group(1)
    new = line[: m.start(1)] + JS_FLIP[op] + line[m.end(1) :]
    return Change(i, i + 1, [new], JS_FLIP[op])


JS_NUMBER = re.compile(r"(?<![\w.$])\d+(?![\w.])")
JS_STRING = re.compile(r"(['\"])[^'\"\\\n]{2,40}\1")


def js_change_constant(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    spots = []
    for i, line in enumerate(src.lines):
        s = line.strip()
        if not s or s.startswith(("*", "/*", "//")) or "//" in line or "/*" in line or "`" in line:
            continue
        if js_plain(line):
            spots += [(i, m) for m in JS_NUMBER.finditer(line)]
        elif line.count("'") + line.count('"') == 2:
            spots += [(i, m) for m in JS_STRING.finditer(line)]
    spots = [(i, m) for i, m in spots if changed_literal(m.group(0), rng) is not None]
    if not spots:
        return None
    i, m = rng.choice(spots)
    literal = changed_literal(m.group(0), rng) or m.group(0)
    line = src.lines[i]
    return Change(i, i + 1, [line[: m.start()] + literal + line[m.end() :]], literal)


def js_add_comment(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    rows = [i for i in range(len(src.lines)) if js_stmt_start(src.lines, i)]
    if not rows:
        return None
    row = rng.choice(rows)
    return Change(row, row, [f"{indent_of(src.lines[row])}// {rng.choice(COMMENTS)}"], "")


def js_edit_2_3_lines(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    lines = src.lines
    spots = []
    for _, sig, end, fname, params in js_functions(lines):
        first = params.split(",")[0].split("=")[0].strip()
        if IDENT.match(first) and end > sig + 1:
            spots.append((sig, fname, first))
    if not spots:
        return None
    sig, fname, p = rng.choice(spots)
    nxt = lines[sig + 1]
    ind = indent_of(nxt) if nxt.strip() and indent_of(nxt) > indent_of(lines[sig]) else None
    ind = ind if ind is not None else indent_of(lines[sig]) + "  "
    step = ind[len(indent_of(lines[sig])) :] if ind.startswith(indent_of(lines[sig])) else ""
    unit = step or ("\t" if ind.startswith("\t") else "  ")
    guard = rng.choice([
        [f"{ind}if ({p} == null) {{", f"{ind}{unit}return;", f"{ind}}}"],
        [f"{ind}if (!{p}) return;", f"{ind}console.debug('{fname or 'call'}', {p});"],
        [f"{ind}if ({p} === undefined) {{", f"{ind}{unit}return null;", f"{ind}}}"],
        [f"{ind}if (!{p}) {{", f"{ind}{unit}throw new TypeError('{p} is required');", f"{ind}}}"],
    ])  # fmt: skip
    return Change(sig + 1, sig + 1, guard, p)


def js_add_function(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    lines = src.lines
    donor = donors.take("function")
    if donor is None:
        return None
    spots: dict[str, list[tuple[int, str]]] = {"function": [], "method": []}
    for kind, sig, _, _, _ in js_functions(lines):
        if sig > 0 and not lines[sig - 1].strip():
            spots[kind].append((sig, indent_of(lines[sig])))
    other = "function" if donor.kind == "method" else "method"
    ok = spots[donor.kind] or spots[other]
    if not ok:
        return None
    row, ind = rng.choice(ok)
    block = [ind + line if line else "" for line in donor.lines]
    return Change(row, row, [*block, ""], donor.name, donor.origin)


def js_rewrite_block(src: Source, rng: random.Random, donors: Donors) -> Change | None:
    lines = src.lines
    runs = [r for _, sig, end, _, _ in js_functions(lines)
            for r in js_body_runs(lines, sig, end, 10, 20)]  # fmt: skip
    if not runs:
        return None
    donor = donors.take("block")
    if donor is None:
        return None
    start, end = rng.choice(runs)
    ind = indent_of(lines[start])
    block = [ind + line if line else "" for line in donor.lines]
    return Change(start, end, block, donor.name, donor.origin)


MAKERS: dict[str, dict[str, Maker]] = {
    "python": {"add_import": py_add_import, "flip_condition": py_flip_condition,
               "change_constant": py_change_constant, "add_comment": py_add_comment,
               "edit_2_3_lines": py_edit_2_3_lines, "add_function_10_30": py_add_function,
               "rewrite_block": py_rewrite_block},
    "javascript": {"add_import": js_add_import, "flip_condition": js_flip_condition,
                   "change_constant": js_change_constant, "add_comment": js_add_comment,
                   "edit_2_3_lines": js_edit_2_3_lines, "add_function_10_30": js_add_function,
                   "rewrite_block": js_rewrite_block},
}  # fmt: skip


def make_edit(src: Source, kind: str, rng: random.Random, donors: Donors, eid: str) -> Edit | None:
    for _ in range(TRIES if kind not in SUBSTANTIAL else 2):
        change = MAKERS[src.lang][kind](src, rng, donors)
        if change is None:
            return None
        made = apply(src, change, rng)
        if made is None:
            continue
        old, new, edited, added_at = made
        if src.lang == "python":
            try:
                ast.parse(edited)
            except (SyntaxError, ValueError):
                continue
        subject = change.subject or "this"
        prose = rng.choice(PROSE[kind]).format(x=subject)
        added = (added_at, added_at + len("\n".join(change.new_lines)))
        return Edit(eid, src.lang, src.rel, kind, old, new, prose, added, old.count("\n") + 1,
                    len(change.new_lines), change.end - change.start, change.donor)  # fmt: skip
    return None


def edited_text(src: Source, edit: Edit) -> str:
    return src.text.replace(edit.old_string, edit.new_string, 1)


def build_edits(
    sources: list[Source], donors: Donors, rng: random.Random, start_id: int, counts: dict[str, int]
) -> tuple[list[Edit], list[Source]]:
    """One edit per source, edit types balanced (``counts`` so far, by type); sources no edit
    fits are returned unused."""
    edits, unused = [], []
    for src in sources:
        order = sorted(EDITS, key=lambda k: (counts[k], rng.random()))
        for kind in order:
            edit = make_edit(src, kind, rng, donors, f"e{start_id + len(edits):04d}")
            if edit is not None:
                counts[kind] += 1
                edits.append(edit)
                break
        else:
            unused.append(src)
    return edits, unused


# --- running --------------------------------------------------------------------------------


def cli(args: list[str], env: dict[str, str], log: Path) -> float:
    t0 = time.perf_counter()
    with log.open("a") as fh:
        fh.write(f"$ distillguard {shlex.join(args)}\n")
        fh.flush()
        done = subprocess.run([sys.executable, "-c", RUN, *args], env=env, stdout=fh, stderr=fh)
    if done.returncode not in (0, 1):
        sys.exit(f"distillguard {args[0]} failed ({done.returncode}); see {log}")
    return time.perf_counter() - t0


def code_under_test(env: dict[str, str]) -> dict[str, Any]:
    probe = "import distillguard, pathlib; print(pathlib.Path(distillguard.__file__).parent)"
    where = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    git = ["git", "-C", where]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "."], capture_output=True, text=True
    )
    return {"package": where, "commit": commit.stdout.strip() or None,
            "dirty": bool(dirty.stdout.strip())}  # fmt: skip


def union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def judge(matches: list[dict[str, Any]], own: str | None, added: tuple[int, int]) -> dict[str, Any]:
    spans = union([(int(s), int(e)) for m in matches for s, e in m.get("spans", [])])
    chars = sum(e - s for s, e in spans)
    inside = sum(max(0, min(e, added[1]) - max(s, added[0])) for s, e in spans)
    mine = [m for m in matches if own is not None and m["output_id"] == own]
    return {
        "flagged": bool(matches),
        "by_own_output": bool(mine),
        "containment": max((m["containment"] for m in mine or matches), default=None),
        "fingerprints": max((m.get("fingerprints", 0) for m in mine or matches), default=None),
        "spans": [list(s) for s in spans],
        "span_chars": chars,
        "span_chars_added": inside,
        "outputs": sorted({m["output_id"] for m in matches}),
    }


def share(k: int, n: int) -> float | None:
    return round(k / n, 3) if n else None


def row(results: list[dict[str, Any]], substantial: bool) -> dict[str, Any]:
    flagged = [r for r in results if r["flagged"]]
    out: dict[str, Any] = {"n": len(results), "flagged": len(flagged),
                           "share_flagged": share(len(flagged), len(results))}  # fmt: skip
    if substantial:
        conts = [r["containment"] for r in flagged if r["containment"] is not None]
        out["containment_median"] = round(statistics.median(conts), 3) if conts else None
        chars = sum(r["span_chars"] for r in flagged)
        out["span_share_added"] = share(sum(r["span_chars_added"] for r in flagged), chars)
        per = [r["span_chars_added"] / r["span_chars"] for r in flagged if r["span_chars"]]
        out["span_share_added_median"] = round(statistics.median(per), 3) if per else None
    return out


def score(
    edits: list[Edit], results: dict[str, dict[str, Any]], controls: dict[str, Any]
) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for lang in (*LANGS, "all"):
        mine = [e for e in edits if lang in ("all", e.lang)]
        t: dict[str, Any] = {}
        for kind in EDITS:
            rs = [results[e.id] for e in mine if e.kind == kind]
            t[kind] = row(rs, kind in SUBSTANTIAL)
        t["trivial"] = row([results[e.id] for e in mine if e.kind in TRIVIAL], False)
        t["substantial"] = row([results[e.id] for e in mine if e.kind in SUBSTANTIAL], True)
        cs = [c for c in controls.values() if lang in ("all", c["lang"])]
        t["controls"] = row(cs, False)
        table[lang] = t
    return table


def print_table(table: dict[str, Any]) -> None:
    head = f"{'':20}" + "".join(f"{lang:>32}" for lang in table)
    print(head)
    print(f"{'':20}" + "".join(f"{'flagged  share  cont  added':>32}" for _ in table))
    for key in (*EDITS, "trivial", "substantial", "controls"):
        cells = []
        for lang in table:
            r = table[lang][key]
            cont = r.get("containment_median")
            add = r.get("span_share_added")
            cell = (f"{r['flagged']:>4}/{r['n']:<4} {r['share_flagged'] or 0:5.3f} "
                    f"{'' if cont is None else f'{cont:5.2f}':>5} "
                    f"{'' if add is None else f'{add:5.2f}':>5}")  # fmt: skip
            cells.append(f"{cell:>32}")
        print(f"{key:20}" + "".join(cells))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--label", required=True, help="names the results file and the work dir")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--python", type=int, default=300, help="Python files edited")
    p.add_argument("--javascript", type=int, default=150, help="JavaScript files edited")
    p.add_argument(
        "--controls",
        type=int,
        default=200,
        help="untouched files: 2/3 Python (what the stdlib has left), the rest JavaScript",
    )
    p.add_argument("--work", type=Path, default=None, help="default: .work/agent_edits/LABEL")
    p.add_argument("--out", type=Path, default=None, help="default: results/agent_edits-LABEL")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    work = (args.work or HERE / ".work" / "agent_edits" / args.label).resolve()
    out_json = args.out or HERE / "results" / f"agent_edits-{args.label}.json"
    shutil.rmtree(work, ignore_errors=True)
    repo, home, scan_out = work / "repo", work / "home", work / "scan-out"
    repo.mkdir(parents=True)
    home.mkdir()
    log = work / "cli.log"
    env = {**os.environ, "DISTILLGUARD_HOME": str(home)}
    for name in ("DISTILLGUARD_DB", "DISTILLGUARD_CONFIG"):
        env.pop(name, None)
    rng = random.Random(args.seed)

    # Company files, edited and controls; donor files never scanned.
    py_ctrl = round(args.controls * 2 / 3)  # or what the stdlib has left; JavaScript the rest
    seen: set[str] = set()
    py_all = python_sources()
    rng.shuffle(py_all)
    js_by_pkg = javascript_files()
    packages = sorted(js_by_pkg)
    rng.shuffle(packages)
    donor_pkgs = set(packages[::4])
    js_pool = []
    for pkg in sorted(set(packages) - donor_pkgs):
        files = list(js_by_pkg[pkg])
        rng.shuffle(files)
        js_pool += javascript_sources(files)[:PER_PACKAGE]
    rng.shuffle(js_pool)
    spare = 60  # files an edit may not fit
    py_src = distinct(py_all, seen, args.python + py_ctrl + spare)
    js_src = distinct(js_pool, seen, args.javascript + args.controls + spare)
    purelib = Path(sysconfig.get_paths()["purelib"])
    py_donor_paths = sorted(p for p in purelib.rglob("*.py")
                            if not DONOR_SKIP & set(p.relative_to(purelib).parts[:-1]))  # fmt: skip
    rng.shuffle(py_donor_paths)
    js_donor_paths = sorted(p for pkg in sorted(donor_pkgs) for p in js_by_pkg[pkg])
    rng.shuffle(js_donor_paths)

    edits: list[Edit] = []
    controls: list[Source] = []
    by_rel: dict[str, Source] = {}
    for lang, pool, n_edit, donor_paths in (
        ("python", py_src, args.python, py_donor_paths),
        ("javascript", js_src, args.javascript, js_donor_paths),
    ):
        n_ctrl = py_ctrl if lang == "python" else args.controls - len(controls)
        donors = Donors(lang, donor_paths, seen, rng)
        counts = dict.fromkeys(EDITS, 0)
        made, unused = build_edits(pool[:n_edit], donors, rng, len(edits), counts)
        rest = unused + pool[n_edit:]
        while len(made) < n_edit and rest:  # replace files no edit fits
            more, _ = build_edits([rest.pop(0)], donors, rng, len(edits) + len(made), counts)
            made += more
        edits += made
        controls += rest[:n_ctrl]
        by_rel.update((s.rel, s) for s in pool)
        print(f"{lang}: {len(made)} edited, {len(rest[:n_ctrl])} controls", file=sys.stderr)
    assert len({e.id for e in edits}) == len(edits), "edit ids must be unique"
    t_built = time.perf_counter()

    for edit in edits:
        path = repo / edit.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edited_text(by_rel[edit.rel], edit), encoding="utf-8")
    for src in controls:
        path = repo / src.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(src.text, encoding="utf-8")
    record = work / "answers.jsonl"
    with record.open("w", encoding="utf-8") as fh:
        for edit in edits:
            fields = {"text": edit.answer, "vendor": "anthropic", "model": "claude-x",
                      "request": edit.old_string, "source_id": edit.id}  # fmt: skip
            fh.write(json.dumps(fields) + "\n")
    (work / "edits.json").write_text(
        json.dumps([{**asdict(e), "answer": e.answer} for e in edits], indent=1)
    )

    code = code_under_test(env)
    t_record = cli(["record", "--jsonl", str(record)], env, log)
    t_scan = cli(["scan", str(repo), "--out", str(scan_out), "--workers", "1"], env, log)
    scan = json.loads((scan_out / "report.json").read_text())
    with sqlite3.connect(home / "ledger.db") as db:
        ids = dict(db.execute("SELECT source_id, id FROM outputs").fetchall())
    eid_of = {v: k for k, v in ids.items()}

    found: dict[str, list[dict[str, Any]]] = {}
    for f in scan["findings"]:
        rel = Path(f["doc"]).resolve().relative_to(repo).as_posix()
        found[rel] = f["matches"]
    results = {e.id: judge(found.get(e.rel, []), ids.get(e.id), e.added) for e in edits}
    ctrl_results = {
        s.rel: {**judge(found.get(s.rel, []), None, (0, 0)), "lang": s.lang} for s in controls
    }
    table = score(edits, results, ctrl_results)

    def named(r: dict[str, Any]) -> dict[str, Any]:
        return {**r, "outputs": [eid_of.get(o, o) for o in r["outputs"]]}

    details = {
        "trivial_flagged": [
            {"edit": e.id, "file": e.rel, "kind": e.kind, "lang": e.lang, "prose": e.prose,
             "added": list(e.added), "context_lines": e.context_lines,
             "added_lines": e.added_lines, **named(results[e.id])}
            for e in edits if e.kind in TRIVIAL and results[e.id]["flagged"]
        ],
        "substantial_missed": [
            {"edit": e.id, "file": e.rel, "kind": e.kind, "lang": e.lang, "donor": e.donor,
             "added": list(e.added), "context_lines": e.context_lines,
             "added_lines": e.added_lines, "removed_lines": e.removed_lines}
            for e in edits if e.kind in SUBSTANTIAL and not results[e.id]["flagged"]
        ],
        "substantial_flagged": [
            {"edit": e.id, "file": e.rel, "kind": e.kind, "added": list(e.added),
             **named(results[e.id])}
            for e in edits if e.kind in SUBSTANTIAL and results[e.id]["flagged"]
        ],
        "controls_flagged": [
            {"file": rel, **named(r)} for rel, r in ctrl_results.items() if r["flagged"]
        ],
    }  # fmt: skip
    (work / "details.json").write_text(json.dumps(details, indent=1))

    pythonpath = os.environ.get("PYTHONPATH")
    py = os.path.relpath(sys.executable, ROOT)
    cmd = [py, os.path.relpath(__file__, ROOT), *(argv if argv is not None else sys.argv[1:])]
    command = (f"PYTHONPATH={pythonpath} " if pythonpath else "") + shlex.join(cmd)
    ctx = [e.context_lines for e in edits]
    total = time.perf_counter() - t_start
    result = {
        "benchmark": "agent_edits",
        "label": args.label,
        "command": command,
        "seed": args.seed,
        "code_under_test": code,
        "machine": report.machine(),
        "seconds": {"build_edits": round(t_built - t_start, 1), "record": round(t_record, 1),
                    "scan": round(t_scan, 1), "scan_report": scan.get("seconds"),
                    "total": round(total, 1)},
        "corpus": {
            "edited": {lang: sum(e.lang == lang for e in edits) for lang in LANGS},
            "edits": {lang: {k: sum(e.lang == lang and e.kind == k for e in edits)
                             for k in EDITS} for lang in LANGS},
            "controls": {lang: sum(s.lang == lang for s in controls) for lang in LANGS},
            "old_string_lines": {"min": min(ctx), "median": statistics.median(ctx),
                                 "max": max(ctx)},
            "scan_documents": scan["documents"],
            "scan_flagged": scan["flagged"],
            "scan_skipped": len(scan.get("skipped", [])),
            "outputs_recorded": len(ids),
        },
        "figures": table,
        "details": os.path.relpath(work / "details.json", ROOT),
    }  # fmt: skip
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"code under test: {code['package']} ({code['commit']})")
    print("flagged/n, share flagged, median containment, share of span chars on added lines")
    print_table(table)
    print(f"total {total:.0f} s (record {t_record:.0f} s, scan {t_scan:.0f} s); {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
