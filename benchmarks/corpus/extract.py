"""Extract functions, classes, paragraphs, license headers and trivial snippets from real files."""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import jslex
from .model import Unit

MIN_LINES, MAX_LINES = 8, 80
MIN_WORDS = 40
TRIVIAL_MAX_LINES, TRIVIAL_MAX_CHARS = 3, 80  # a trivial snippet: <= 3 lines, <= 80 non-blank
LICENSE_RE = re.compile(r"licen[cs]e|copyright", re.IGNORECASE)
LEGAL_RE = re.compile(r"licen[cs]|warrant|copyright|liabilit", re.IGNORECASE)
WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]*")


@dataclass
class FileUnits:
    """Everything one file contributes."""

    package: str
    path: str
    units: list[Unit] = field(default_factory=list)  # 8-80 line functions/classes, paragraphs
    trivial: list[Unit] = field(default_factory=list)  # 2-3 line functions, main guards
    license_header: str = ""
    imports: list[str] = field(default_factory=list)


def is_trivial(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return len(lines) <= TRIVIAL_MAX_LINES and len(re.sub(r"\s", "", text)) <= TRIVIAL_MAX_CHARS


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def dedent_block(lines: list[str]) -> str:
    """Remove the first line's indentation from every line that carries it."""
    first = lines[0]
    indent = first[: len(first) - len(first.lstrip())]
    out = [line[len(indent) :] if line.startswith(indent) else line for line in lines]
    return "\n".join(out).rstrip() + "\n"


# --- Python -------------------------------------------------------------------------------


def _py_defs(tree: ast.Module) -> list[ast.AST]:
    """Module-level functions and classes, and the methods of module-level classes."""
    nodes: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            nodes.append(node)
        if isinstance(node, ast.ClassDef):
            nodes += [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return nodes


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])  # type: ignore[attr-defined]


def _py_license(lines: list[str]) -> str:
    block: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(line)
        elif stripped or block:
            break
    text = "\n".join(block)
    if 3 <= len(block) <= 30 and LICENSE_RE.search(text) and not text.startswith("#!"):
        return text + "\n"
    return ""


def _is_main_guard(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def python_file(package: str, path: Path, rel: str) -> FileUnits | None:
    text = read_text(path)
    if text is None:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    lines = text.splitlines()
    found = FileUnits(package=package, path=rel, license_header=_py_license(lines))
    for node in _py_defs(tree):
        start, end = _first_line(node), node.end_lineno or node.lineno  # type: ignore[attr-defined]
        n = end - start + 1
        unit = Unit("py", dedent_block(lines[start - 1 : end]), package, rel, start, end)
        unit = Unit(**{**unit.__dict__, "name": node.name})  # type: ignore[attr-defined]
        if MIN_LINES <= n <= MAX_LINES:
            found.units.append(unit)
        elif is_trivial(unit.text) and not isinstance(node, ast.ClassDef):
            found.trivial.append(unit)
    for node in tree.body:
        block = dedent_block(lines[node.lineno - 1 : node.end_lineno])
        if _is_main_guard(node) and is_trivial(block):
            found.trivial.append(Unit("py", block, package, rel, node.lineno, node.end_lineno or 0))
        if isinstance(node, ast.Import | ast.ImportFrom) and node.lineno == node.end_lineno:
            found.imports.append(lines[node.lineno - 1].strip())
    found.units += _docstring_paragraphs(tree, package, rel)
    return found


def _docstring_paragraphs(tree: ast.Module, package: str, rel: str) -> list[Unit]:
    units = []
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    for node in nodes:
        doc = ast.get_docstring(node, clean=True)
        if not doc:
            continue
        line = getattr(node, "lineno", 0)
        for i, para in enumerate(prose_paragraphs(inspect.cleandoc(doc))):
            units.append(Unit("prose", para, package, rel, line * 1000 + i, line * 1000 + i))
    return units


# --- prose --------------------------------------------------------------------------------


def _prose_like(para: str) -> bool:
    words = para.split()
    if len(words) < MIN_WORDS or ">>>" in para or "```" in para or LEGAL_RE.search(para):
        return False
    if para.lstrip()[:1] in "#|<![-*=+>`:.{":
        return False
    wordish = sum(1 for w in words if WORD_RE.fullmatch(w.strip(".,;:()\"'?!")))
    return wordish / len(words) >= 0.75


def prose_paragraphs(text: str) -> list[str]:
    """Paragraphs of running text (>= 40 words), outside code fences and indented blocks."""
    paras, current, fenced = [], [], False
    for line in [*text.splitlines(), ""]:
        if line.strip().startswith(("```", "~~~")):
            fenced = not fenced
            current = []
            continue
        if fenced or line.startswith(("    ", "\t")):
            current = [] if not line.strip() else current
            continue
        if line.strip():
            current.append(line.rstrip())
            continue
        if current:
            para = "\n".join(current) + "\n"
            if _prose_like(para):
                paras.append(para)
        current = []
    return paras


def prose_file(package: str, path: Path, rel: str) -> FileUnits | None:
    text = read_text(path)
    if text is None:
        return None
    found = FileUnits(package=package, path=rel)
    for i, para in enumerate(prose_paragraphs(text)):
        found.units.append(Unit("prose", para, package, rel, i, i))
    return found


# --- JavaScript -----------------------------------------------------------------------------


def _js_license(text: str) -> str:
    toks = jslex.tokenize(text[:6000])
    block = []
    for tok in toks:
        if tok.kind == "comment":
            block.append(tok)
        elif tok.kind != "ws":
            break
    if not block:
        return ""
    header = text[block[0].start : block[-1].end]
    n = header.count("\n") + 1
    if 3 <= n <= 30 and LICENSE_RE.search(header):
        return header + "\n"
    return ""


def _header_kind(sig: list[jslex.Tok], i: int) -> int | None:
    """If a definition starts at sig[i], the index of the '{' opening its body."""
    t = [s.text for s in sig[i : i + 6]] + [""] * 6
    j = i
    if t[0] == "export":
        j += 2 if t[1] == "default" else 1
    elif t[0] in ("const", "let", "var") and sig[i + 1].kind == "ident" and t[2] == "=":
        j += 3
    elif sig[i].kind == "ident" and t[1] == ".":
        k = i
        while k + 2 < len(sig) and sig[k + 1].text == "." and sig[k + 2].kind == "ident":
            k += 2
        if k + 1 >= len(sig) or sig[k + 1].text != "=":
            return None
        j = k + 2
    if j < len(sig) and sig[j].text == "async":
        j += 1
    if j >= len(sig):
        return None
    if sig[j].text in ("function", "class"):
        for k in range(j, min(j + 200, len(sig))):
            if sig[k].text == "{":
                return k
            if sig[k].text in (";", "}"):
                return None
        return None
    if j == i:
        return None
    return _arrow_body(sig, j)


def _arrow_body(sig: list[jslex.Tok], j: int) -> int | None:
    if sig[j].kind == "ident":
        k = j + 1
    elif sig[j].text == "(":
        close = jslex.matching_close(sig, j)
        if close is None:
            return None
        k = close + 1
    else:
        return None
    if k + 1 < len(sig) and sig[k].text == "=>" and sig[k + 1].text == "{":
        return k + 1
    return None


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _starts_line(text: str, offset: int) -> bool:
    line_start = text.rfind("\n", 0, offset) + 1
    return not text[line_start:offset].strip()


def _leading_doc_comment(toks: list[jslex.Tok], start_tok: jslex.Tok, text: str) -> int:
    """Start offset including a /** ... */ comment that ends on the line before."""
    idx = next(i for i, t in enumerate(toks) if t.start == start_tok.start)
    k = idx - 1
    if k >= 0 and toks[k].kind == "ws" and toks[k].text.count("\n") == 1:
        k -= 1
    if k >= 0 and toks[k].kind == "comment" and toks[k].text.startswith("/**"):
        return toks[k].start
    return start_tok.start


def js_file(package: str, path: Path, rel: str) -> FileUnits | None:
    text = read_text(path)
    if text is None or max((len(x) for x in text.splitlines()), default=0) > 400:
        return None
    toks = jslex.tokenize(text)
    sig = jslex.significant(toks)
    lines = text.splitlines()
    found = FileUnits(package=package, path=rel, license_header=_js_license(text))
    for i, tok in enumerate(sig):
        if not _starts_line(text, tok.start):
            continue
        brace = _header_kind(sig, i)
        close = jslex.matching_close(sig, brace) if brace is not None else None
        if close is None:
            continue
        start_line = _line_of(text, _leading_doc_comment(toks, tok, text))
        end_line = _line_of(text, sig[close].start)
        n = end_line - start_line + 1
        name = next(
            (s.text for s in sig[i : i + 4] if s.kind == "ident" and s.text not in jslex.RESERVED),
            "",
        )
        unit = Unit(
            "js",
            dedent_block(lines[start_line - 1 : end_line]),
            package,
            rel,
            start_line,
            end_line,
            name,
        )
        if MIN_LINES <= n <= MAX_LINES:
            found.units.append(unit)
        elif is_trivial(unit.text):
            found.trivial.append(unit)
    found.imports = [
        ln.strip()
        for ln in lines[:60]
        if re.fullmatch(r"\s*(const|var|let) \w+ = require\(['\"][\w./@-]+['\"]\);?\s*", ln)
    ][:3]
    return found
