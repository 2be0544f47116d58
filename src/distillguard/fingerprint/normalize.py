"""Normalization prepared in Python: keyword and prose-folding tables, code and prose.

The per-token work happens in :mod:`distillguard.fingerprint.kernels`; this module builds the
tables the kernels read (once per process) and tells code from prose (code density, the prose
inside code, license headers, markdown fences); :mod:`distillguard.fingerprint.parts` cuts an
output into what is fingerprinted.
"""

from __future__ import annotations

import os
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

from distillguard.fingerprint.kernels import FNV_OFFSET, FNV_PRIME

# Identifiers that keep their name in the code channel: keywords and builtins of common
# languages. Renaming never touches these, so they carry structure.
KEYWORDS = frozenset(
    """
    False None True and as assert async await break class continue def del elif else except
    finally for from global if import in is lambda nonlocal not or pass raise return try while
    with yield match case self cls super print len range str int float bool dict list set tuple
    bytes object type isinstance issubclass getattr setattr hasattr enumerate zip map filter
    sorted reversed min max sum any all abs open iter next repr hash id format Exception
    ValueError TypeError KeyError IndexError AttributeError RuntimeError NotImplementedError
    OSError StopIteration property staticmethod classmethod __init__ __name__ __main__ function
    var let const new delete typeof instanceof void this null undefined true false switch
    default do throw catch export extends static get of yield implements interface package
    private protected public enum require module exports console document window Math JSON
    Object Array String Number Boolean Promise Error Map Set Symbol length prototype constructor
    arguments then resolve reject async int long short char double unsigned signed struct union
    typedef sizeof extern volatile register goto auto inline include define ifdef ifndef endif
    nullptr template typename namespace using virtual override final friend operator std func go
    chan defer fallthrough select map type range nil make append cap string error fn let mut
    impl trait pub crate mod use where loop match ref Self Some Ok Err Box Vec Option Result
    unsafe dyn move end elsif unless until begin rescue ensure then puts require_relative
    attr_accessor echo fi done esac local
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*$", re.MULTILINE)
# Characters that are rare in prose and common in every programming language.
_CODE_CHARS = "{}()[];=_<>"
_LEGAL = re.compile(r"(?i)copyright|licen[cs]e|\(c\)|spdx|all rights reserved")
_HEADER = re.compile(r"\A(?:[ \t]*(?:#|//|/\*|\*|--)[^\n]*(?:\n|\Z)|[ \t]*\n)+")
# Prose inside code: docstrings (triple-quoted strings) and comments (``#``, ``//``, ``-- ``,
# ``/* */``, ``<!-- -->``), read as words by the text channel.
_CODE_PROSE = re.compile(
    r"(?=[\"'/<#-])"  # every match starts with one of these: a quick test at each position
    r'(?:"""(.*?)"""|\'\'\'(.*?)\'\'\''  # docstrings
    r"|/\*(.*?)\*/|<!--(.*?)-->"  # block comments
    r"|(?:^|(?<=\s))(?:#(?![!\w])|//|--\s)([^\n]*))",  # line comments (not #!, #include)
    re.DOTALL | re.MULTILINE,
)
_COMMENT_MARKS = re.compile(r"^[ \t]*(?:\*+|#+|//+)[ \t]?", re.MULTILINE)
# Prose of fewer words than this in a part of code is no evidence of its own.
CODE_PROSE_MIN_WORDS = 12
# Measured on the stdlib: 99% of functions are above CODE_MIN, 90% of docstring prose below it.
CODE_MIN = 0.15
PROSE_MAX = 0.5
DENSITY_SAMPLE = 4000


def fnv1a(data: bytes) -> int:
    """The 64-bit FNV-1a hash the kernels use for identifiers."""
    h = int(FNV_OFFSET)
    prime = int(FNV_PRIME)
    for byte in data:
        h = ((h ^ byte) * prime) & 0xFFFFFFFFFFFFFFFF
    return h


@lru_cache(maxsize=1)
def keyword_table() -> np.ndarray:
    """An open-addressing set of keyword hashes for :func:`kernels._in_table`."""
    size = 1 << (len(KEYWORDS) * 4).bit_length()
    table = np.zeros(size, np.uint64)
    for word in KEYWORDS:
        h = fnv1a(word.encode())
        slot = h & (size - 1)
        while table[slot] != 0:
            slot = (slot + 1) & (size - 1)
        table[slot] = h
    table.setflags(write=False)
    return table


def code_density(text: str) -> float:
    """Code punctuation per word: about 0.07 for prose, 0.5 for code (median)."""
    sample = text[:DENSITY_SAMPLE]
    words = len(sample.split())
    return sum(sample.count(c) for c in _CODE_CHARS) / words if words else 0.0


def strip_header(text: str) -> str:
    """``text`` without a leading comment block that is a copyright or license notice."""
    header = _HEADER.match(text)
    if header and _LEGAL.search(header.group()):
        return text[header.end() :]
    return text


def code_prose(code: str) -> str:
    """The prose inside code: its docstrings and comments, one per line, comment marks and
    license notices left out (a leading comment block that holds one is boilerplate whole:
    :func:`strip_header`); empty when that is fewer than ``CODE_PROSE_MIN_WORDS`` words."""
    pieces = []
    for m in _CODE_PROSE.finditer(strip_header(code)):
        piece = next(g for g in m.groups() if g is not None)
        piece = _COMMENT_MARKS.sub("", piece).strip()
        if piece and not _LEGAL.search(piece):
            pieces.append(piece)
    prose = "\n".join(pieces)
    return prose if len(prose.split()) >= CODE_PROSE_MIN_WORDS else ""


def fences(text: str) -> list[re.Match[str]]:
    """The markdown fence lines (```` ``` ```` or ``~~~``) of ``text``, in order."""
    return list(_FENCE.finditer(text)) if "```" in text or "~~~" in text else []


def _fold_char(ch: str) -> bytes:
    """What the text channel reads for one non-ASCII character: its NFKC, lowercased form as
    UTF-8, with every character that is not part of a word (punctuation, spaces, symbols,
    controls) turned into an ASCII space."""
    out = bytearray()
    for f in unicodedata.normalize("NFKC", ch).lower():
        if f.isascii():
            out += f.encode() if f.isalnum() or f == "_" else b" "
        elif unicodedata.category(f)[0] in "LMN":
            out += f.encode("utf-8", "surrogatepass")
        else:
            out += b" "
    return bytes(out)


# Bump when _fold_char changes meaning: the cached tables carry it in their name.
FOLD_VERSION = 1


@lru_cache(maxsize=1)
def fold_table() -> tuple[np.ndarray, np.ndarray]:
    """Prose folding for the kernels: ``pool[offsets[c]:offsets[c + 1]]`` is what the text
    channel reads for code point ``c`` (U+0080 to U+FFFF; see :func:`_fold_char`).

    Building it takes ~0.1 s of Python, so it is kept next to the package's bytecode (like
    numba's kernel cache), keyed by this Python's Unicode version; where that directory is not
    writable, every process builds its own."""
    path = _fold_cache_path()
    try:
        with np.load(path) as cached:
            offsets, table = cached["offsets"], cached["table"]
        if offsets.shape == (0x10001,) and int(offsets[-1]) == table.shape[0]:
            offsets.setflags(write=False)
            return offsets, table
    except (OSError, ValueError, KeyError):
        pass
    offsets, table = _build_fold_table()
    _save_fold_table(path, offsets, table)
    return offsets, table


def _fold_cache_path() -> Path:
    name = f"fold-v{FOLD_VERSION}-unicode{unicodedata.unidata_version}.npz"
    return Path(__file__).parent / "__pycache__" / name


def _save_fold_table(path: Path, offsets: np.ndarray, table: np.ndarray) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        with tmp.open("wb") as fh:
            np.savez(fh, offsets=offsets, table=table)
        os.replace(tmp, path)
    except OSError:  # a read-only install: no cache, no harm
        tmp.unlink(missing_ok=True)


def _build_fold_table() -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(0x10001, np.uint32)
    pool = bytearray()
    for cp in range(0x80, 0x10000):
        offsets[cp] = len(pool)
        pool += _fold_char(chr(cp))
    offsets[0x10000] = len(pool)
    table = np.frombuffer(bytes(pool), dtype=np.uint8)
    offsets.setflags(write=False)
    return offsets, table
