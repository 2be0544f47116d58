"""The matcher's kernels against plain-Python references, on random hits."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from distillguard.scan import kernels


@pytest.mark.parametrize("seed", range(8))
def test_tally_groups_hits_by_document_output_and_channel(seed: int) -> None:
    rng = np.random.default_rng(seed)
    queries = int(rng.integers(1, 400))
    q_doc = np.sort(rng.integers(0, 6, queries))
    q_hash = rng.integers(0, 50, queries).astype(np.uint64)  # repeated fingerprints
    hits = int(rng.integers(0, 3000))
    hit_q = rng.integers(0, queries, hits)
    outputs = int(rng.integers(1, 20))  # few outputs: large groups
    hit_out = rng.integers(0, outputs, hits)
    allowed = rng.random(outputs) < 0.8
    least = 3
    groups: dict[int, list[int]] = defaultdict(list)
    for q, o in zip(hit_q.tolist(), hit_out.tolist(), strict=True):
        if allowed[o]:
            groups[(int(q_doc[q]) << 33) | (o << 1) | int(q_hash[q] & np.uint64(1))].append(q)
    expected = {k: sorted(v) for k, v in groups.items() if len(v) >= least}
    key, first, stop, matched, query = kernels.tally(hit_q, hit_out, q_doc, q_hash, allowed, least)
    assert key.tolist() == sorted(expected)
    for g, k in enumerate(key.tolist()):
        mine = query[first[g] : stop[g]].tolist()
        assert sorted(mine) == expected[k]
        assert matched[g] == len({int(q_hash[q]) for q in mine})
