"""``blame``: which lines of a file came from which recorded output, and in which commit.

``git blame --line-porcelain`` maps each line of the working file to the commit that added it
and its line number there; the commit's attribution (note or recomputed) says whether that line
came from an output. Lines not committed yet are matched directly against the index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from distillguard.capture.git.attribute import (
    Contribution,
    contributions,
)
from distillguard.capture.git.notes import Attributions

_HEADER = re.compile(r"^([0-9a-f]{40,64}) (\d+) (\d+)")
UNCOMMITTED = "uncommitted"


@dataclass(frozen=True)
class BlameLine:
    line: int  # in the working file
    commit: str  # full id, or UNCOMMITTED
    orig_path: str
    orig_line: int


@dataclass(frozen=True)
class Blamed:
    """Consecutive lines of the working file from one output, added by one commit."""

    start_line: int
    end_line: int
    commit: str
    output_id: str
    vendor: str
    model: str
    containment: float


def blame_lines(attributions: Attributions, path: str) -> list[BlameLine]:
    git = attributions.attributor.git
    if not git.text("ls-files", "--", path).strip():  # not tracked yet: every line is new
        text = (git.root / path).read_text(encoding="utf-8", errors="replace")
        count = len(text.splitlines())
        return [BlameLine(n, UNCOMMITTED, path, n) for n in range(1, count + 1)]
    out = git.text("blame", "--line-porcelain", "--", path)
    lines: list[BlameLine] = []
    sha, orig, final, filename = "", 0, 0, path
    for raw in out.splitlines():
        header = _HEADER.match(raw)
        if header:
            sha, orig, final = header[1], int(header[2]), int(header[3])
        elif raw.startswith("filename "):
            filename = raw[len("filename ") :]
        elif raw.startswith("\t"):
            commit = UNCOMMITTED if set(sha) == {"0"} else sha
            lines.append(BlameLine(final, commit, filename, orig))
    return lines


def blame(attributions: Attributions, path: str) -> tuple[list[Blamed], int]:
    """The runs of lines from outside output in ``path``, and the file's line count."""
    lines = blame_lines(attributions, path)
    owners: dict[int, tuple[str, Contribution]] = {}
    for commit in dict.fromkeys(bl.commit for bl in lines):
        mine = [bl for bl in lines if bl.commit == commit]
        if commit == UNCOMMITTED:
            found = _uncommitted(attributions, path, [bl.line for bl in mine])
        else:
            found = _committed(attributions, commit, mine)
        owners.update({n: (commit, c) for n, c in found.items()})
    return _runs(owners), len(lines)


def _committed(
    attributions: Attributions, commit: str, mine: list[BlameLine]
) -> dict[int, Contribution]:
    att = attributions.get(commit)
    by_path = {f.path: f for f in att.files}
    found = {}
    for bl in mine:
        f = by_path.get(bl.orig_path)
        for c in f.contributions if f else ():
            if any(s <= bl.orig_line <= e for s, e in c.ranges):
                found[bl.line] = c
                break
    return found


def _uncommitted(
    attributions: Attributions, path: str, numbers: list[int]
) -> dict[int, Contribution]:
    root = attributions.attributor.git.root
    try:
        text = (root / Path(path)).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    matches = attributions.attributor.matcher.match([text])[0]
    found: dict[int, Contribution] = {}
    for c in contributions(text, matches, numbers, attributions.attributor.output_text):
        for s, e in c.ranges:
            for n in range(s, e + 1):
                found.setdefault(n, c)
    return found


def _runs(owners: dict[int, tuple[str, Contribution]]) -> list[Blamed]:
    runs: list[Blamed] = []
    for n in sorted(owners):
        commit, c = owners[n]
        last = runs[-1] if runs else None
        if (
            last
            and last.end_line == n - 1
            and (last.commit, last.output_id) == (commit, c.output_id)
        ):
            runs[-1] = Blamed(
                last.start_line, n, commit, c.output_id, c.vendor, c.model, c.containment
            )
        else:
            runs.append(Blamed(n, n, commit, c.output_id, c.vendor, c.model, c.containment))
    return runs
