"""Fingerprint sets of recorded outputs: what the index stores for each output.

Every fingerprint is also the evidence of one *part* of its output (a code unit, a paragraph:
see :mod:`distillguard.fingerprint.parts`), so that a document holding one function of a long
answer is judged against that function, not only against the whole answer.

An output's set is the fingerprints of what the model *added*: its code segments in the code
channel, its prose (and the prose inside its code) in the text channel, minus every fingerprint
that also occurs in the request it was given (in either channel), so quoted context is never
attributed to the vendor. What was added is measured in bytes, not k-grams: a fingerprint
whose k-gram is mostly quoted context (one changed line inside an ``Edit``'s unchanged
lines) is not the model's, and a paragraph that quotes its request and adds only a few lines
of its own is no evidence at all.
Ambiguous segments go in both channels. A hash's lowest bit names its channel.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from distillguard.fingerprint import (
    CODE,
    TEXT,
    EncodedBatch,
    FingerprintConfig,
    Fingerprinter,
    Piece,
    Prints,
    layout,
)
from distillguard.model import NewOutput

# A fingerprint is the model's when at least this share of its bytes is not quoted from the
# request: a k-gram belongs to whichever side owns most of it.
MIN_ADDED_SHARE = 0.5
# A paragraph of an output that quotes its request and adds fewer lines or bytes than these of
# its own (a changed line or three inside quoted context) is never evidence: the scan's
# minimum evidence is 100 characters, and a few lines in the company's file are not a copy.
MIN_ADDED_LINES = 4
MIN_ADDED_BYTES = 100
# A paragraph quotes its request when this many of its visible bytes are quoted (a ``"""`` or
# a ``}`` the request also has is no quoting).
MIN_QUOTED_BYTES = 16
# Lines that declare dependencies (see _declaration_bytes), in the languages the fingerprints read.
_DECLARATION = re.compile(
    rb"^[ \t]*(?:import[ \t({]|from[ \t]+[\w.]+[ \t]+import\b|#[ \t]*include\b|using[ \t]+[\w.:]+;"
    rb"|use[ \t]+[\w:{}, ]+;|(?:const|let|var)[ \t]+[\w{}, ]+=[ \t]*require\("
    rb"|require[ \t]*\(|require[ \t]+['\"]"
    rb"|package[ \t]+[\w.]+;?[ \t]*$)[^\n]*",
    re.MULTILINE,
)
# Request text fingerprinted at a time when finding what an output quotes (bounds memory).
REQUEST_BATCH_CHARS = 4 << 20


KIND_CODE, KIND_PROSE, KIND_WHOLE, KIND_SHARED = 0, 1, 2, 3
KINDS = ("code", "prose", "whole", "shared")


@dataclass(frozen=True)
class PartRows:
    """The parts of a batch of outputs: per part, its output (indexing the texts given), its
    ordinal in that output, its kind (``KINDS``) and its first and last line."""

    output: np.ndarray
    index: np.ndarray
    kind: np.ndarray
    first_line: np.ndarray
    last_line: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[tuple[int, int, int, int, int]]) -> PartRows:
        table = np.asarray(rows, dtype=np.int64).reshape(-1, 5)
        return cls(*(table[:, i].copy() for i in range(5)))

    def __len__(self) -> int:
        return int(self.output.shape[0])


@dataclass(frozen=True)
class OutputSets:
    """Unique ``(hash, output)`` pairs, ``output`` indexing the texts given, each with the
    ``part`` (indexing ``parts``) it is the evidence of."""

    hash: np.ndarray
    output: np.ndarray
    part: np.ndarray
    parts: PartRows

    @classmethod
    def empty(cls) -> OutputSets:
        none = np.empty(0, np.int64)
        return cls(np.empty(0, np.uint64), none, none, PartRows.of([]))


@dataclass
class _Pieces:
    """Texts of one channel to fingerprint, each with its output and its parts' cuts."""

    texts: list[str] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    cuts: list[tuple[int, ...]] = field(default_factory=list)
    parts: list[tuple[int, ...]] = field(default_factory=list)

    def add(self, piece: Piece, owner: int, base: int) -> None:
        self.texts.append(piece.text)
        self.owners.append(owner)
        self.cuts.append(piece.cuts)
        self.parts.append(tuple(base + p for p in piece.parts))

    def part_of(self, batch: EncodedBatch, doc: np.ndarray, start: np.ndarray) -> np.ndarray:
        """The part each fingerprint (piece ``doc``, byte ``start``) is evidence of."""
        lengths = [len(c) for c in self.cuts]
        base = np.repeat(batch.starts[:-1], lengths)
        at = base + np.fromiter((c for cs in self.cuts for c in cs), np.int64, sum(lengths))
        number = np.fromiter((p for ps in self.parts for p in ps), np.int64, sum(lengths))
        found: np.ndarray = number[np.searchsorted(at, batch.starts[doc] + start, "right") - 1]
        return found


def _pairs_of(
    fp: Fingerprinter, pieces: list[str], owners: list[int], channel: int
) -> tuple[np.ndarray, np.ndarray]:
    if not pieces:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    prints = fp.of_texts(pieces, channel)
    return prints.hash, np.asarray(owners, dtype=np.int64)[prints.doc]


def _added_pairs(
    fp: Fingerprinter, pieces: _Pieces, channel: int, requests: Sequence[str | None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fingerprints of ``pieces`` that are mostly what the model added (see
    :func:`_mostly_added`), with their outputs and parts."""
    if not pieces.texts:
        none = np.empty(0, np.int64)
        return np.empty(0, np.uint64), none, none
    batch = EncodedBatch(pieces.texts)
    prints = fp.code(batch) if channel == CODE else fp.text(batch)
    owner = np.asarray(pieces.owners, dtype=np.int64)
    declared = _declaration_bytes(batch)
    quoted = None
    if any(requests[o] for o in set(pieces.owners)):
        quoted = _quoted_bytes(fp, batch, owner, channel, requests)
    keep = _mostly_added(batch, prints, quoted, declared)
    part = pieces.part_of(batch, prints.doc[keep], prints.start[keep])
    return prints.hash[keep], owner[prints.doc[keep]], part


def _mostly_added(
    batch: EncodedBatch, prints: Prints, quoted: np.ndarray | None, declared: np.ndarray | None
) -> np.ndarray:
    """Which fingerprints are the model's: at least ``MIN_ADDED_SHARE`` of their bytes are
    neither quoted from the request nor on declaration lines (:func:`_declaration_bytes`), and
    they do not start in a paragraph that quotes the request and adds too little of its own
    (:func:`_trivial_paragraphs`).

    Only what the model added is its output: a k-gram that straddles one changed line inside
    quoted context is mostly the company's own code, and a change of a line or two inside
    quoted context is no evidence, however long the lines around it."""
    keep = np.ones(len(prints), dtype=bool)
    if quoted is None and (declared is None or not declared.any()):
        return keep
    size = int(batch.starts[-1])
    foreign = np.zeros(size, dtype=np.int64)
    for mask in (quoted, declared):
        if mask is not None:
            foreign |= mask
    before = np.concatenate([[0], np.cumsum(foreign)])
    lo = batch.starts[prints.doc] + prints.start
    hi = batch.starts[prints.doc] + prints.end
    added = (hi - lo) - (before[hi] - before[lo])
    keep &= added >= MIN_ADDED_SHARE * (hi - lo)
    if quoted is not None and lo.shape[0]:
        paragraph, trivial = _trivial_paragraphs(batch, quoted)
        keep &= ~trivial[paragraph[lo]]
    return keep


def _declaration_bytes(batch: EncodedBatch) -> np.ndarray:
    """1 for every byte on a line that declares what code depends on (in either channel: code
    read as words is code too) (``import``,
    ``from x import``, ``#include``, ``using``, ``use``, ``require``, ``package``), else 0.

    Such lines name a codebase's modules, not what an answer wrote: every file of one package
    shares them (the company's own files and an answer that used the same package alike), so
    they are never evidence of a copy. The rest of the code is."""
    marks = np.zeros(int(batch.starts[-1]), dtype=np.int64)
    for m in _DECLARATION.finditer(batch.buf.tobytes()):
        marks[m.start() : m.end()] = 1
    return marks


def _trivial_paragraphs(batch: EncodedBatch, quoted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each byte's paragraph (blank-line separated, never across pieces), and which paragraphs
    quote the request (``MIN_QUOTED_BYTES`` visible bytes) yet add fewer than
    ``MIN_ADDED_LINES`` lines or ``MIN_ADDED_BYTES`` bytes of their own (a line is added when
    most of its visible bytes are not quoted)."""
    buf = batch.buf
    size = buf.shape[0]
    starts_line = np.zeros(size, dtype=bool)
    starts_line[1:] = buf[:-1] == 10
    starts_line[batch.starts[:-1][batch.starts[:-1] < size]] = True
    line = np.cumsum(starts_line) - 1
    visible = ~np.isin(buf, np.array([9, 10, 13, 32], dtype=np.uint8))
    lines = int(line[-1]) + 1 if size else 0
    shown = np.bincount(line, weights=visible, minlength=lines)
    novel = np.bincount(line, weights=visible & (quoted == 0), minlength=lines)
    cited = np.bincount(line, weights=visible & (quoted > 0), minlength=lines)
    piece_start = np.zeros(lines, dtype=bool)
    piece_start[line[batch.starts[:-1][batch.starts[:-1] < size]]] = True
    new_para = piece_start.copy()
    new_para[1:] |= shown[:-1] == 0
    para_of_line = np.cumsum(new_para) - 1
    paras = int(para_of_line[-1]) + 1 if lines else 0
    added_line = (shown > 0) & (novel * 2 > shown)
    added_lines = np.bincount(para_of_line, weights=added_line, minlength=paras)
    added_bytes = np.bincount(para_of_line, weights=novel, minlength=paras)
    quotes = np.bincount(para_of_line, weights=cited, minlength=paras) >= MIN_QUOTED_BYTES
    trivial = quotes & ((added_lines < MIN_ADDED_LINES) | (added_bytes < MIN_ADDED_BYTES))
    return para_of_line[line], trivial


def _quoted_bytes(
    fp: Fingerprinter,
    batch: EncodedBatch,
    owner: np.ndarray,
    channel: int,
    requests: Sequence[str | None],
) -> np.ndarray:
    """1 for every byte of the pieces that lies in a k-gram also found in the piece's request
    (every k-gram, not only the winnowed ones) or on a line the request holds, else 0."""
    dense = Fingerprinter(replace(fp.config, code_w=1, text_w=1))
    every = dense.code(batch) if channel == CODE else dense.text(batch)
    keys = _pair_keys(every.hash, owner[every.doc])
    asked = sorted({int(o) for o in owner.tolist() if requests[int(o)]})
    hit = np.isin(keys, _quoted_keys(dense, channel, asked, requests, keys))
    size = int(batch.starts[-1])
    marks = np.zeros(size + 1, dtype=np.int64)
    base = batch.starts[every.doc[hit]]
    np.add.at(marks, base + every.start[hit], 1)
    np.add.at(marks, base + every.end[hit], -1)
    covered: np.ndarray = (np.cumsum(marks[:size]) > 0).astype(np.int64)
    _mark_quoted_lines(batch, owner, requests, covered)
    return covered


def _mark_quoted_lines(
    batch: EncodedBatch, owner: np.ndarray, requests: Sequence[str | None], covered: np.ndarray
) -> None:
    """Mark as quoted every line of a piece that is, but for indentation, a line of its
    request: k-grams alone leave unchanged context next to a change unquoted (every k-gram over
    it crosses the change), and comments, docstrings and repetitive lists yield no k-gram to
    compare. Per line, not per token: this reads lines once, at index time."""
    lines_of: dict[int, frozenset[bytes]] = {}
    for piece in range(len(batch.starts) - 1):
        who = int(owner[piece])
        request = requests[who]
        if not request:
            continue
        if who not in lines_of:
            lines_of[who] = frozenset(_stripped_lines(request.encode("utf-8", "surrogatepass")))
        start, end = int(batch.starts[piece]), int(batch.starts[piece + 1])
        _mark_lines(bytes(batch.buf[start:end]), start, lines_of[who], covered)


def _stripped_lines(data: bytes) -> list[bytes]:
    return [line for raw in data.split(b"\n") if (line := raw.strip())]


def _mark_lines(data: bytes, base: int, quoted: frozenset[bytes], covered: np.ndarray) -> None:
    at = base
    for raw in data.split(b"\n"):
        line = raw.strip()
        if line and line in quoted:
            covered[at : at + len(raw)] = 1
        at += len(raw) + 1


def _quoted_keys(
    dense: Fingerprinter,
    channel: int,
    asked: list[int],
    requests: Sequence[str | None],
    wanted: np.ndarray,
) -> np.ndarray:
    """The (k-gram, owner) keys of the requests that are also ``wanted`` (the outputs' own),
    read ``REQUEST_BATCH_CHARS`` of request text at a time: requests (whole conversations, tool
    results) can be far larger than the outputs, and only the keys they share matter."""
    found = [np.empty(0, np.uint64)]
    group: list[int] = []
    size = 0
    for number in [*asked, -1]:
        if number >= 0:
            group.append(number)
            size += len(requests[number] or "")
        if group and (number < 0 or size >= REQUEST_BATCH_CHARS):
            req = dense.of_texts([requests[o] or "" for o in group], channel)
            keys = _pair_keys(req.hash, np.asarray(group, dtype=np.int64)[req.doc])
            found.append(keys[np.isin(keys, wanted)])
            group, size = [], 0
    return np.concatenate(found)


def _first_of_pairs(hashes: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """Where each distinct ``(hash, owner)`` pair first occurs."""
    _, first = np.unique(_pair_keys(hashes, owners), return_index=True)
    found: np.ndarray = first
    return found


def _pair_keys(hashes: np.ndarray, owners: np.ndarray) -> np.ndarray:
    keys: np.ndarray = hashes ^ (owners.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    return keys


def output_sets(
    fp: Fingerprinter, texts: Sequence[str], requests: Sequence[str | None]
) -> OutputSets:
    """Fingerprint sets of many outputs at once, each fingerprint with its part."""
    code, prose = _Pieces(), _Pieces()
    rows: list[tuple[int, int, int, int, int]] = []
    for i, text in enumerate(texts):
        shape = layout(text)
        for piece in shape.pieces:
            (code if piece.channel == CODE else prose).add(piece, i, len(rows))
        rows += [
            (i, n, KINDS.index(p.kind), p.first_line, p.last_line)
            for n, p in enumerate(shape.parts)
        ]
    found = [_added_pairs(fp, code, CODE, requests), _added_pairs(fp, prose, TEXT, requests)]
    hashes, owners, parts = (np.concatenate([f[i] for f in found]) for i in range(3))
    first = _first_of_pairs(hashes, owners)
    hashes, owners, parts = hashes[first], owners[first], parts[first]
    asked = [(r, i) for i, r in enumerate(requests) if r]
    if asked and hashes.shape[0]:
        req_texts = [r for r, _ in asked]
        req_owner = [i for _, i in asked]
        quoted = [_pairs_of(fp, req_texts, req_owner, ch) for ch in (CODE, TEXT)]
        q_keys = np.concatenate([_pair_keys(*q) for q in quoted])
        fresh = ~np.isin(_pair_keys(hashes, owners), q_keys)
        hashes, owners, parts = hashes[fresh], owners[fresh], parts[fresh]
    return OutputSets(hashes, owners, parts, PartRows.of(rows))


def whole_sets(owned: Sequence[tuple[int, np.ndarray]]) -> OutputSets:
    """Sets kept as fingerprints only (privacy mode), as ``(output, hashes)``: each output is
    one part, ``whole`` (its text, and so its parts, are not known)."""
    if not owned:
        return OutputSets.empty()
    hashes = np.concatenate([h for _, h in owned])
    owner = np.concatenate([np.full(h.shape[0], i, dtype=np.int64) for i, h in owned])
    part = np.repeat(np.arange(len(owned), dtype=np.int64), [h.shape[0] for _, h in owned])
    rows = [(i, 0, KIND_WHOLE, 0, 0) for i, _ in owned]
    return OutputSets(hashes, owner, part, PartRows.of(rows))


def background_hashes(fp: Fingerprinter, texts: Sequence[str]) -> np.ndarray:
    """Every fingerprint of a background corpus, in both channels: never evidence."""
    if not texts:
        return np.empty(0, np.uint64)
    batch = EncodedBatch(texts)
    return np.unique(np.concatenate([fp.code(batch).hash, fp.text(batch).hash]))


def privacy_form(new: NewOutput, config: FingerprintConfig) -> NewOutput:
    """The output as fingerprints-only mode records it: its fingerprint set, no text.

    The request is fingerprinted (to subtract what was quoted) and then dropped too.
    """
    if new.text is None:
        return new
    sets = output_sets(Fingerprinter(config), [new.text], [new.request])
    return replace(
        new,
        text=None,
        request=None,
        text_hash=new.content_hash(),
        fingerprints=np.sort(sets.hash).tobytes(),
        fp_config=config.id,
    )
