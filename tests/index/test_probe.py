"""Probing a segment: the Bloom filter in front of the directory never loses a posting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from distillguard.errors import IndexError_
from distillguard.index import bloom
from distillguard.index.probe import probe_segment
from distillguard.index.store import FORMAT, MANIFEST, Index, Segment


def pairs(hit_query: np.ndarray, hit_output: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(hit_query.tolist(), hit_output.tolist(), strict=True))


@pytest.mark.parametrize("size", [0, 1, 50, 20_000])
def test_probe_finds_every_posting_and_nothing_else(size: int) -> None:
    rng = np.random.default_rng(size)
    hashes = rng.integers(0, 2**64, size, dtype=np.uint64)
    hashes = np.concatenate([hashes, hashes[: size // 3]])  # some hashes in several outputs
    outputs = np.arange(hashes.shape[0], dtype=np.uint32)
    segment = Segment.build(hashes, outputs)
    misses = rng.integers(0, 2**64, 5000, dtype=np.uint64)
    queries = np.concatenate([misses, hashes[::-1]])
    expected = {
        (int(q), int(o))
        for q, h in enumerate(queries.tolist())
        for o in np.flatnonzero(hashes == h).tolist()
    }
    assert pairs(*probe_segment(segment, queries)) == expected


def test_the_filter_lets_every_key_of_the_segment_through() -> None:
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 2**64, 100_000, dtype=np.uint64)
    segment = Segment.build(hashes, np.zeros(hashes.shape[0], np.uint32))
    through = bloom.maybe(hashes, segment.filter, segment.bits)
    assert through.shape[0] == hashes.shape[0]
    others = rng.integers(0, 2**64, 100_000, dtype=np.uint64)
    assert bloom.maybe(others, segment.filter, segment.bits).shape[0] < 0.2 * others.shape[0]


def test_an_index_of_an_older_format_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "index"
    root.mkdir()
    (root / MANIFEST).write_text(json.dumps({"format": FORMAT - 1}))
    with pytest.raises(IndexError_, match=f"format {FORMAT - 1}, need {FORMAT}"):
        Index.open(root)
