"""Matches in a record gathered from several strings, told per string (``field``).

A chat record is scanned as one text: its strings joined by a separator, with where each one
begins (``Document.fields``). A match found there is told again for each string its spans
touch: the string's path as ``field`` and spans as offsets into that string (a span that runs
over a separator is cut at it), so a reader can point at the very turn that holds the copy.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

from distillguard.model import Match
from distillguard.scan.formats.records import FIELD_SEPARATOR


def by_field(matches: list[Match], fields: tuple[tuple[str, int], ...], size: int) -> list[Match]:
    """Each match split into one per string it touches, in the order of the strings."""
    starts = [start for _, start in fields]
    ends = [s - len(FIELD_SEPARATOR) for s in starts[1:]] + [size]
    out: list[Match] = []
    for match in matches:
        out.extend(_split(match, fields, starts, ends))
    return out


def _split(
    match: Match, fields: tuple[tuple[str, int], ...], starts: list[int], ends: list[int]
) -> list[Match]:
    per_field: dict[int, list[tuple[int, int]]] = {}
    for begin, end in match.spans:
        i = max(bisect.bisect_right(starts, begin) - 1, 0)
        while i < len(starts) and starts[i] < end:
            lo, hi = max(begin, starts[i]), min(end, ends[i])
            if lo < hi:
                per_field.setdefault(i, []).append((lo - starts[i], hi - starts[i]))
            i += 1
    return [
        replace(match, spans=tuple(spans), field=fields[i][0])
        for i, spans in sorted(per_field.items())
    ]
