"""Evidence density: the same answer whatever order the fingerprints come in."""

from __future__ import annotations

import numpy as np

from distillguard.scan import evidence


def _layout(order: np.ndarray) -> tuple[np.ndarray, ...]:
    # Two documents, both channels; document 0's code channel holds fingerprints at bytes
    # 0, 10, ..., 90 (k-grams 8 bytes long).
    doc = np.array([0] * 10 + [0] * 4 + [1] * 6, np.int64)
    chan = np.array([0] * 10 + [1] * 4 + [0] * 6, np.uint64)
    start = np.array([*range(0, 100, 10), 0, 5, 9, 20, *range(0, 60, 10)], np.int64)
    hashes = (np.arange(20, dtype=np.uint64) << np.uint64(1)) | chan
    return hashes[order], doc[order], start[order], start[order] + 8


def test_density_is_the_share_of_the_stretch_and_ignores_the_layout() -> None:
    ordered = np.arange(20)
    shuffled = np.random.default_rng(1).permutation(20)
    results = []
    for order in (ordered, shuffled):
        q_hash, q_doc, q_start, q_end = _layout(order)
        where = {int(i): int(np.flatnonzero(order == i)[0]) for i in range(20)}
        # One group: document 0, code channel, hits at the fingerprints of bytes 20 and 50.
        query = np.array([where[2], where[5]], np.int64)
        out = evidence.density(
            np.array([0]), np.array([0]), np.array([0]), np.array([2]), np.array([0]),
            np.array([2]), query, q_doc, q_hash, q_start, q_end, 2,
        )  # fmt: skip
        results.append(float(out[0]))
    # Between byte 20 and 58 lie the fingerprints at 20, 30, 40, 50: two of four matched.
    assert results == [0.5, 0.5]
