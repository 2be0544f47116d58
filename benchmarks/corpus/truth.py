"""Ground-truth checks.

Negatives: real code duplicates itself, so a document we call negative must not share a long
verbatim run with ANY output in the ledger (license headers excluded: they are boilerplate the
product must ignore). The rule, applied to each output's body:

* LINES: 4 consecutive identical non-blank lines (compared after stripping leading and trailing
  whitespace) that together hold >= 60 non-whitespace characters; or
* CHARS: a common substring of >= 200 characters after collapsing every whitespace run to one
  space (detected with 64-character rolling hashes: a run of >= 137 consecutive window hits);
* NEAR: >= 50% of the output body's literal token 8-grams (lower-cased identifier, number and
  punctuation tokens; for prose outputs: word 5-grams) occur in the document. This catches
  near-copies that differ on every line (sibling methods generated from one template, the same
  parameter paragraph repeated across docstrings), which hold most of an output without a long
  verbatim run.

A negative that breaks the rule is dropped (and counted in the manifest). Trivial outputs are
left out of the check: they are what the `trivial` negatives insert, and never evidence.

Positives: the inserted text must still carry the output's content after the edit: >= 30% of
the output body's abstracted token 8-grams (identifiers -> I, strings -> S, numbers -> N,
comments dropped; for prose: lower-cased word 5-grams) occur in the inserted text, and the
inserted text holds >= 150 non-whitespace characters of code or >= 25 words of prose.
"""

from __future__ import annotations

import hashlib
import keyword
import re

import numpy as np

from . import jslex

LINE_WINDOW, LINE_MIN_CHARS = 4, 60
CHAR_RUN, CHAR_WINDOW = 200, 64
POS_MIN_CONTAINMENT = 0.3
POS_MIN_CODE_CHARS, POS_MIN_WORDS = 150, 25

_rng = np.random.default_rng(12345)
_WEIGHTS = _rng.integers(1, 2**63, size=CHAR_WINDOW, dtype=np.uint64) | np.uint64(1)


def _line_windows(text: str) -> set[bytes]:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    out = set()
    for i in range(len(lines) - LINE_WINDOW + 1):
        window = lines[i : i + LINE_WINDOW]
        if sum(len(re.sub(r"\s", "", ln)) for ln in window) >= LINE_MIN_CHARS:
            out.add(hashlib.blake2b("\n".join(window).encode(), digest_size=8).digest())
    return out


def _char_hashes(text: str) -> np.ndarray:
    """Hashes of every 64-character window of the whitespace-collapsed text."""
    flat = " ".join(text.split())
    codes = np.frombuffer(flat.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - CHAR_WINDOW + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    for j in range(CHAR_WINDOW):
        h += codes[j : j + n] * _WEIGHTS[j]
    return h


_LITERAL_RE = re.compile(r"[A-Za-z_$][\w$]*|\d+|[^\w\s]")
NEAR_CONTAINMENT = 0.5


def literal_grams(text: str, prose: bool) -> np.ndarray:
    """Distinct hashed literal n-grams: word 5-grams for prose, token 8-grams for code."""
    if prose:
        toks, n = prose_tokens(text), 5
    else:
        toks, n = [t.lower() for t in _LITERAL_RE.findall(text)], 8
    grams = {hash(tuple(toks[i : i + n])) for i in range(len(toks) - n + 1)}
    return np.fromiter(grams, dtype=np.int64, count=len(grams))


class _GramIndex:
    """Sorted literal n-gram hashes of a set of outputs, to measure containment in a text."""

    def __init__(self, bodies: list[str], prose: bool) -> None:
        self.prose = prose
        grams = [literal_grams(b, prose) for b in bodies]
        self.sizes = np.array([len(g) for g in grams], dtype=np.int64)
        owners = np.repeat(np.arange(len(grams)), self.sizes)
        flat = np.concatenate(grams) if grams else np.zeros(0, np.int64)
        order = np.argsort(flat, kind="stable")
        self.grams, self.owners = flat[order], owners[order]

    def max_containment(self, text: str) -> float:
        doc = literal_grams(text, self.prose)
        if len(doc) == 0 or len(self.grams) == 0:
            return 0.0
        lo = np.searchsorted(self.grams, doc, "left")
        hi = np.searchsorted(self.grams, doc, "right")
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            return 0.0
        starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
        hits = np.bincount(self.owners[starts + np.arange(total)], minlength=len(self.sizes))
        return float((hits / np.maximum(self.sizes, 1)).max())


class OutputIndex:
    """Line windows, character-window hashes and literal n-grams of all output bodies."""

    def __init__(self, bodies: list[str], prose: list[bool] | None = None) -> None:
        self.lines: set[bytes] = set()
        hashes = []
        for body in bodies:
            self.lines |= _line_windows(body)
            hashes.append(_char_hashes(body))
        self.chars = np.unique(np.concatenate(hashes)) if hashes else np.zeros(0, np.uint64)
        flags = prose if prose is not None else [False] * len(bodies)
        self.near = [
            _GramIndex([b for b, p in zip(bodies, flags, strict=True) if p == family], family)
            for family in (False, True)
        ]

    def violation(self, text: str) -> str | None:
        """Why ``text`` shares a long verbatim run with some output, or None."""
        if _line_windows(text) & self.lines:
            return "lines"
        if any(g.max_containment(text) >= NEAR_CONTAINMENT for g in self.near):
            return "near"
        hashes = _char_hashes(text)
        if len(hashes) == 0:
            return None
        if len(self.chars) == 0:
            return None
        idx = np.minimum(np.searchsorted(self.chars, hashes), len(self.chars) - 1)
        hits = self.chars[idx] == hashes
        return "chars" if _longest_true_run(hits) >= CHAR_RUN - CHAR_WINDOW + 1 else None


def _longest_true_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())


# --- positives ------------------------------------------------------------------------------

_PY_TOKEN = re.compile(
    r"(?P<comment>#[^\n]*)|(?P<string>[rbfuRBFU]{0,2}(?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|"
    r"'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"))|(?P<ident>[A-Za-z_]\w*)|(?P<num>\d[\w.]*)"
    r"|(?P<punct>[^\s\w])"
)


def code_tokens(text: str, kind: str) -> list[str]:
    """Abstracted tokens: identifiers -> I, strings -> S, numbers -> N; comments dropped."""
    out = []
    if kind == "js":
        for tok in jslex.significant(jslex.tokenize(text)):
            if tok.kind == "ident":
                out.append(tok.text if tok.text in jslex.RESERVED else "I")
            elif tok.kind in ("string", "template", "regex"):
                out.append("S")
            else:
                out.append("N" if tok.kind == "num" else tok.text)
        return out
    for m in _PY_TOKEN.finditer(text):
        group, value = m.lastgroup, m.group()
        if group == "ident":
            out.append(value if keyword.iskeyword(value) else "I")
        elif group in ("string", "num"):
            out.append("S" if group == "string" else "N")
        elif group == "punct":
            out.append(value)
    return out


def prose_tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _grams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def containment(body: str, inserted: str, kind: str) -> float:
    """Share of the output body's abstracted n-grams present in the inserted text."""
    if kind == "prose":
        a, b, n = prose_tokens(body), prose_tokens(inserted), 5
    else:
        a, b, n = code_tokens(body, kind), code_tokens(inserted, kind), 8
    grams = _grams(a, n)
    if not grams:
        return 0.0
    return len(grams & _grams(b, n)) / len(grams)


def positive_ok(body: str, inserted: str, kind: str) -> bool:
    if kind == "prose":
        big_enough = len(inserted.split()) >= POS_MIN_WORDS
    else:
        big_enough = len(re.sub(r"\s", "", inserted)) >= POS_MIN_CODE_CHARS
    return big_enough and containment(body, inserted, kind) >= POS_MIN_CONTAINMENT
