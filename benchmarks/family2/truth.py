"""The truth rule: the longest run a text shares with each answer's own (non-request) text.

Texts are compared after case folding and collapsing every run of whitespace to one space, so a
re-indented or re-cased copy still counts as shared. A negative that shares a run of at least
``LONG_RUN`` characters with some answer is not a negative (it is dropped); a positive holds
every answer it shares such a run with, besides the one it was made from.

Implementation: every ``WINDOW``-character window of an answer at a multiple of ``STRIDE`` is
hashed (any shared run of ``WINDOW + STRIDE - 1`` or more characters contains one); a text's
windows at every offset are hashed with numpy, hits are extended both ways to the full run.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

LONG_RUN = 200
WINDOW, STRIDE = 64, 32
_BASE = np.uint64(1_000_003)
_SEP = "\x00"  # stands where request text was cut out of an answer: no run crosses it


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold())


def _window_hashes(text: str) -> np.ndarray:
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - WINDOW + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(WINDOW):
            h = h * _BASE + codes[k : k + n]
    return h


class RunIndex:
    """Answers' own texts, to ask how long a run any text shares with each."""

    def __init__(self, own_texts: list[str]) -> None:
        self.texts = [normalize(t) for t in own_texts]
        self.anchors: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for idx, text in enumerate(self.texts):
            hashes = _window_hashes(text)
            for pos in range(0, len(hashes), STRIDE):
                if _SEP not in text[pos : pos + WINDOW]:
                    self.anchors[int(hashes[pos])].append((idx, pos))

    def runs(self, text: str, min_run: int = LONG_RUN) -> dict[int, int]:
        """{answer index: shared run length} for answers sharing a run of ``min_run`` or more
        characters (the length is the first such run found, a lower bound of the longest)."""
        doc = normalize(text)
        hashes = _window_hashes(doc)
        if not len(hashes):
            return {}
        hits = set(self.anchors).intersection(hashes.tolist())
        best: dict[int, int] = {}
        for h in hits:
            offsets = np.nonzero(hashes == np.uint64(h))[0][:20]
            for idx, pos in self.anchors[h]:
                if best.get(idx, 0) >= min_run:
                    continue  # enough to decide; the run reported is a lower bound
                ans = self.texts[idx]
                for off in offsets.tolist():
                    if doc[off : off + WINDOW] != ans[pos : pos + WINDOW]:
                        continue
                    a, b = off, pos
                    while a > 0 and b > 0 and doc[a - 1] == ans[b - 1]:
                        a, b = a - 1, b - 1
                    length = WINDOW
                    while (
                        off + length < len(doc)
                        and pos + length < len(ans)
                        and doc[off + length] == ans[pos + length]
                    ):
                        length += 1
                    run = length + (off - a)
                    if run > best.get(idx, 0):
                        best[idx] = run
        return {idx: run for idx, run in best.items() if run >= min_run}
