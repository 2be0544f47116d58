"""Attribute the lines a commit added to recorded outside-model outputs, from content alone.

For each file a commit changed, its new content is matched against the ledger's index (the same
matcher and evidence rules as ``scan``: trivial code and license headers never count); the lines
covered by a match's evidence spans *and* added by the commit are that output's contribution.
Nothing depends on how the code got there (an agent, a paste by hand) or on line numbers carried
across history, so the result is the same after an amend, a rebase or a squash.

Evidence spans are the extents of the winnowed fingerprints, a sample: holes of up to
``GAP_LINES`` added lines between covered lines are closed, and when the output's text is in the
ledger, a run grows over adjacent added lines the output has verbatim (a copy's closing lines).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from distillguard.capture.git.diff import AddedLines
from distillguard.capture.git.repo import STAGED, Git
from distillguard.capture.git.trailers import Coauthor, ai_coauthors
from distillguard.model import Match
from distillguard.scan.matcher import Matcher

OutputText = Callable[[str], str | None]  # an output's text by id (None: privacy mode)
BATCH_CHARS = 4 << 20
GAP_LINES = 6  # evidence on both sides of a run of up to this many added lines covers it
MAX_FILE_BYTES = 8 << 20  # larger files are data, not code: left unmatched (and counted)
Range = tuple[int, int]  # 1-based, inclusive


@dataclass(frozen=True)
class Contribution:
    """The lines of one file that came from one recorded output."""

    output_id: str
    vendor: str
    model: str
    containment: float
    ranges: tuple[Range, ...]

    @property
    def lines(self) -> int:
        return sum(end - start + 1 for start, end in self.ranges)


@dataclass(frozen=True)
class FileAttribution:
    """One file a commit added lines to: how many, and which came from outside output."""

    path: str
    added: int
    contributions: tuple[Contribution, ...] = ()
    added_ranges: tuple[Range, ...] = ()  # the lines the commit added, as runs

    @property
    def attributed(self) -> int:
        """Added lines that came from some output (a line two outputs share counts once)."""
        return len({n for c in self.contributions for s, e in c.ranges for n in range(s, e + 1)})


@dataclass(frozen=True)
class Attribution:
    """What one commit (or the index, for ``--staged``) added, and where it came from."""

    revision: str
    author_name: str
    author_email: str
    author_date: str
    files: tuple[FileAttribution, ...]
    coauthors: tuple[Coauthor, ...] = ()
    mark: str = ""  # the ledger position it was computed against (see ``IndexMark``)

    @property
    def ai_assisted(self) -> bool:
        return bool(self.coauthors) or any(f.contributions for f in self.files)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def attributed(self) -> int:
        return sum(f.attributed for f in self.files)


class Attributor:
    """Attributes commits of one repository with one matcher."""

    def __init__(
        self,
        git: Git,
        matcher: Matcher,
        mark: str = "",
        output_text: OutputText | None = None,
    ) -> None:
        self.git = git
        self.matcher = matcher
        self.mark = mark
        self.output_text: OutputText = output_text or (lambda output_id: None)

    def commit(self, rev: str) -> Attribution:
        info = self.git.commit(rev)
        files = self.files(info.sha, self.git.added_lines(info.sha))
        return Attribution(
            info.sha,
            info.author_name,
            info.author_email,
            info.author_date,
            files,
            ai_coauthors(info.message),
            self.mark,
        )

    def staged(self) -> Attribution:
        name, email = self.git.ident()
        files = self.files(STAGED, self.git.staged_lines())
        return Attribution(STAGED, name, email, "", files, (), self.mark)

    def files(self, rev: str, added: dict[str, AddedLines]) -> tuple[FileAttribution, ...]:
        paths = sorted(added)
        texts = _decode(self.git.blobs(rev, paths))
        matches = self.match(texts)
        return tuple(
            FileAttribution(
                p,
                len(added[p]),
                contributions(
                    texts.get(p, ""), matches.get(p, []), added[p].lines, self.output_text
                ),
                ranges(added[p].lines),
            )
            for p in paths
        )

    def match(self, texts: dict[str, str]) -> dict[str, list[Match]]:
        """Matches per path, in batches of about ``BATCH_CHARS`` characters."""
        found: dict[str, list[Match]] = {}
        batch: list[str] = []
        size = 0
        for path in [*texts, None]:
            if batch and (path is None or size + len(texts[path]) > BATCH_CHARS):
                results = self.matcher.match([texts[b] for b in batch])
                found.update(zip(batch, results, strict=True))
                batch, size = [], 0
            if path is not None:
                batch.append(path)
                size += len(texts[path])
        return found


def _decode(blobs: dict[str, bytes]) -> dict[str, str]:
    """Text files only: binary, oversized and non-UTF-8 files are not matched."""
    texts = {}
    for path, data in blobs.items():
        if len(data) > MAX_FILE_BYTES or b"\x00" in data[:8192]:
            continue
        try:
            texts[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def contributions(
    text: str,
    matches: Sequence[Match],
    added: Sequence[int],
    output_text: OutputText | None = None,
) -> tuple[Contribution, ...]:
    """Each match's added lines, as ranges; matches that cover no added line are dropped."""
    added_set = set(added)
    starts = line_starts(text)
    file_lines = text.splitlines()
    found = []
    for match in matches:
        covered = covered_lines(starts, len(text), match.spans) & added_set
        lines = fill_gaps(sorted(covered), added_set)
        source = output_text(match.output_id) if output_text else None
        if source is not None and lines:
            lines = extend_exact(lines, file_lines, _stripped(source), added_set)
        if lines:
            found.append(
                Contribution(
                    match.output_id, match.vendor, match.model, match.containment, ranges(lines)
                )
            )
    return tuple(found)


def _stripped(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def extend_exact(
    lines: list[int], file_lines: list[str], output_lines: set[str], added: set[int]
) -> list[int]:
    """Grow each run over neighbouring added lines that are lines of the output, verbatim.

    Winnowing leaves the last few tokens of a copy (``return result;``, a closing brace)
    without a fingerprint of their own; when the output's text is at hand, the lines right
    next to the evidence that the output also has (whitespace aside) belong to the copy too.
    A blank line, or any line the output does not have, stops the growth.
    """
    grown = set(lines)
    for start, end in ranges(lines):
        for step, edge in ((1, end), (-1, start)):
            n = edge + step
            while (
                n in added
                and 0 < n <= len(file_lines)
                and abs(n - edge) <= GAP_LINES
                and file_lines[n - 1].strip() in output_lines
            ):
                grown.add(n)
                n += step
    return sorted(grown)


def fill_gaps(lines: list[int], added: set[int], gap: int = GAP_LINES) -> list[int]:
    """Close short holes between covered lines when every line in the hole was added too.

    Winnowing keeps a sample of an output's fingerprints, and an edit inside a copied function
    breaks the k-grams around it, so the evidence spans of one pasted block can leave a few
    lines uncovered; the block is still one contribution.
    """
    filled = list(lines)
    for a, b in pairwise(lines):
        hole = range(a + 1, b)
        if 0 < len(hole) <= gap and all(n in added for n in hole):
            filled.extend(hole)
    return sorted(filled)


def line_starts(text: str) -> list[int]:
    """Character offset of the start of each line (line n starts at ``starts[n - 1]``)."""
    starts = [0]
    pos = text.find("\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = text.find("\n", pos + 1)
    if starts[-1] == len(text) and len(starts) > 1:
        starts.pop()  # the text ends with a newline: no empty last line
    return starts


def covered_lines(starts: list[int], length: int, spans: Iterable[tuple[int, int]]) -> set[int]:
    """1-based numbers of the lines that half-open character spans ``[a, b)`` touch."""
    lines: set[int] = set()
    for a, b in spans:
        if b <= a or a >= length:
            continue
        first = bisect_right(starts, a)
        last = bisect_right(starts, b - 1)
        lines.update(range(first, last + 1))
    return lines


def ranges(lines: Iterable[int]) -> tuple[Range, ...]:
    """Sorted line numbers folded into inclusive ``(start, end)`` runs."""
    runs: list[list[int]] = []
    for n in sorted(set(lines)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return tuple((a, b) for a, b in runs)
