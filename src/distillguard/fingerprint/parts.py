"""An output's parts: the pieces of an answer that people copy on their own.

An answer is fenced code blocks with prose between them, or a file an agent wrote. Its *parts*
are the units inside those segments: in code, top-level units (a function with its decorators
and leading comment, a class, a block of statements: each begins at a line of the segment's
outer indentation after a blank line); in prose, paragraphs. A document that holds enough of
one part holds outside output, whatever share of the whole answer that part is.

Units smaller than ``PART_MIN_CHARS`` join their neighbours: the scan needs 100 characters of
evidence and a quarter of a part, so a quarter of a smaller part could never count (a unit of
that size or more is always a part of its own, and a run of small ones of at least half of it
too). A unit
longer than ``PART_MAX_CHARS`` (a class, a long module) is cut again at its next indentation
level (its methods), since one method is as likely to be copied as one function.

Every piece of text fingerprinted for an output carries the parts it spans, by byte offset, so
each fingerprint is the evidence of the one part it starts in.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise

from distillguard.fingerprint.config import CODE, TEXT
from distillguard.fingerprint.normalize import (
    CODE_MIN,
    PROSE_MAX,
    code_density,
    code_prose,
    fences,
    strip_header,
)

PART_MIN_CHARS = 400
PART_MAX_CHARS = 2000
# A line that closes a block rather than opening a unit, even at the outer indentation.
_NEWLINE = re.compile("\n")
# A blank line followed by one that is not (captured: that line's indentation).
_AFTER_BLANK = re.compile(r"^[ \t\r\f\v]*\n(?=([ \t]*)\S)", re.MULTILINE)
_INDENTS = re.compile(r"^[ \t]*(?=\S)", re.MULTILINE)
_CLOSER = re.compile(r"[}\])]|end\b|fi\b|done\b|esac\b|</")


@dataclass(frozen=True)
class Part:
    """One part of an output: ``kind`` is ``code`` or ``prose``; lines are 1-based,
    inclusive, in the output's text."""

    kind: str
    first_line: int
    last_line: int


@dataclass(frozen=True)
class Piece:
    """A text to fingerprint in one channel; its part ``parts[i]`` begins at UTF-8 byte
    ``cuts[i]`` of ``text`` (``cuts[0] == 0``)."""

    text: str
    channel: int
    cuts: tuple[int, ...]
    parts: tuple[int, ...]


@dataclass(frozen=True)
class Layout:
    pieces: tuple[Piece, ...]
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class _Region:
    """A segment of the output, ``[start, end)`` in characters, and its channels."""

    start: int
    end: int
    channels: tuple[int, ...]


def layout(text: str) -> Layout:
    """The pieces to fingerprint and the parts of an output."""
    lines = _LineIndex(text)
    pieces: list[Piece] = []
    parts: list[Part] = []
    for region in _regions(text):
        kind = "code" if CODE in region.channels else "prose"
        units = _units(text, region, kind)
        first = len(parts)
        parts += [_part(text, kind, a, b, lines) for a, b in units]
        numbers = tuple(range(first, len(parts)))
        starts = [a for a, _ in units]
        for channel in region.channels:
            pieces.append(_piece(text, region, channel, starts, numbers))
        if TEXT not in region.channels:  # prose inside code is prose
            for (a, b), number in zip(units, numbers, strict=True):
                prose = code_prose(text[a:b])
                if prose:
                    pieces.append(Piece(prose, TEXT, (0,), (number,)))
    return Layout(tuple(pieces), tuple(parts))


def _part(text: str, kind: str, start: int, end: int, lines: _LineIndex) -> Part:
    """The part ``text[start:end]``, its lines counted from its first and to its last
    visible character."""
    chunk = text[start:end]
    first = start + len(chunk) - len(chunk.lstrip())
    last = start + len(chunk.rstrip()) - 1
    return Part(kind, lines.line_of(first), lines.line_of(max(first, last)))


def _regions(text: str) -> list[_Region]:
    """Fenced blocks are code; the text around them is classified by its code density."""
    marks = fences(text)
    if len(marks) < 2:
        return _plain(text, 0, len(text))
    regions: list[_Region] = []
    pos = 0
    for opening, closing in zip(marks[::2], marks[1::2], strict=False):
        regions += _plain(text, pos, opening.start())
        regions.append(_Region(opening.end(), closing.start(), (CODE,)))
        pos = closing.end()
    regions += _plain(text, pos, len(text))
    return [r for r in regions if text[r.start : r.end].strip()]


def _plain(text: str, start: int, end: int) -> list[_Region]:
    """Clear code gets the code channel, clear prose the text channel, the middle both."""
    density = code_density(strip_header(text[start:end]))
    if density >= PROSE_MAX:
        return [_Region(start, end, (CODE,))]
    return [_Region(start, end, (CODE, TEXT) if density >= CODE_MIN else (TEXT,))]


def _piece(
    text: str, region: _Region, channel: int, starts: list[int], numbers: tuple[int, ...]
) -> Piece:
    """The region as fingerprinted in ``channel`` (prose without a leading license notice),
    with its parts' cuts."""
    whole = text[region.start : region.end]
    body = strip_header(whole) if channel == TEXT else whole
    skip = len(whole) - len(body)
    cuts, parts = [0], [numbers[0]]
    for start, number in zip(starts[1:], numbers[1:], strict=True):
        at = start - region.start - skip
        if at <= 0:
            parts[-1] = number  # the notice covered the parts before: they hold nothing here
            continue
        cuts.append(_utf8_len(body[:at]))
        parts.append(number)
    return Piece(body, channel, tuple(cuts), tuple(parts))


def _units(text: str, region: _Region, kind: str) -> list[tuple[int, int]]:
    """The region's parts as ``[start, end)`` character ranges: units joined or cut to size."""
    starts = _unit_starts(text, region.start, region.end, code=kind == "code")
    units = _sized(starts, region.end)
    if kind != "code":
        return units
    cut: list[tuple[int, int]] = []
    for a, b in units:
        if b - a > PART_MAX_CHARS:
            inner = _unit_starts(text, a, b, code=True, inner=True)
            cut += _sized(inner, b)
        else:
            cut.append((a, b))
    return cut


def _unit_starts(text: str, start: int, end: int, *, code: bool, inner: bool = False) -> list[int]:
    """Where units begin in ``text[start:end]``: paragraphs for prose; for code, lines after a
    blank line at the outer indentation (with ``inner``: the next level in)."""
    chunk = text[start:end]
    after_blank = [(m.end(), len(m.group(1))) for m in _AFTER_BLANK.finditer(chunk)]
    if code:
        outer = min(map(len, _INDENTS.findall(chunk)), default=0)
        levels = sorted({i for _, i in after_blank if i > outer}) if inner else [outer]
        level = levels[0] if levels else -1
        after_blank = [
            (pos, i) for pos, i in after_blank if i == level and not _CLOSER.match(chunk, pos + i)
        ]
    return [start] + [start + pos for pos, _ in after_blank]


def _sized(starts: list[int], end: int) -> list[tuple[int, int]]:
    """Units as parts: a unit of ``PART_MIN_CHARS`` or more is a part of its own; runs of
    smaller ones (one-liners, a comment, imports) are joined until they are that long, and a
    run that stays shorter than half of it joins the part after it (or, at the end, before
    it)."""
    bounds = [*starts, end]
    groups: list[list[int]] = []
    run: list[int] | None = None
    for a, b in pairwise(bounds):
        if b - a >= PART_MIN_CHARS:
            if run is not None and run[1] - run[0] >= PART_MIN_CHARS // 2:
                groups.append(run)
            elif run is not None:
                a = run[0]
            groups.append([a, b])
            run = None
            continue
        run = [a, b] if run is None else [run[0], b]
        if run[1] - run[0] >= PART_MIN_CHARS:
            groups.append(run)
            run = None
    if run is not None:
        if groups and run[1] - run[0] < PART_MIN_CHARS // 2:
            groups[-1][1] = run[1]
        else:
            groups.append(run)
    return [(a, b) for a, b in groups]


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class _LineIndex:
    """Character offset -> 1-based line number."""

    def __init__(self, text: str) -> None:
        self._breaks = [m.start() for m in _NEWLINE.finditer(text)]

    def line_of(self, offset: int) -> int:
        return bisect_right(self._breaks, offset - 1) + 1


def split_segments(text: str) -> list[tuple[str, int]]:
    """What of an output is fingerprinted in which channel: ``[(text, channel), ...]``."""
    return [(piece.text, piece.channel) for piece in layout(text).pieces]
