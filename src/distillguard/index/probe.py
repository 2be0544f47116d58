"""Look fingerprints up in an index: numba kernels over the memory-mapped arrays.

Each step is one loop over all queries with independent loads, so the memory accesses of many
queries overlap: the Bloom filter rules most misses out (one access each), the directory gives
the bucket of the rest, then their keys are compared and their postings read. Suppressed
(stopped) hashes need no check here: no segment holds one (see ``store``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from distillguard.index import bloom
from distillguard.index.store import Index, Segment


@nb.njit(cache=True)
def _buckets(queries, through, directory, bits):  # type: ignore[no-untyped-def]
    """The rows ``[lo, hi)`` of each let-through query's bucket (independent loads: they
    overlap)."""
    shift = np.uint64(64 - bits)
    lo = np.empty(through.shape[0], np.int64)
    hi = np.empty(through.shape[0], np.int64)
    for x in range(through.shape[0]):
        b = np.int64(queries[through[x]] >> shift)
        lo[x] = directory[b]
        hi[x] = directory[b + 1]
    return lo, hi


@nb.njit(cache=True)
def _narrow(queries, through, lo, hi, keys):  # type: ignore[no-untyped-def]
    """Narrow each ``[lo, hi)`` to the rows holding the query's key (empty if none); returns
    the total number of rows left."""
    total = 0
    for x in range(through.shape[0]):
        q = queries[through[x]]
        key = np.uint32(q & np.uint64(0xFFFFFFFF))
        u = lo[x]
        while u < hi[x] and keys[u] < key:  # about two keys per bucket, sorted
            u += 1
        v = u
        while v < hi[x] and keys[v] == key:
            v += 1
        lo[x], hi[x] = u, v
        total += v - u
    return total


@nb.njit(cache=True)
def _probe(queries, keys, postings, directory, filter_, bits):  # type: ignore[no-untyped-def]
    through = bloom.maybe(queries, filter_, bits)
    lo, hi = _buckets(queries, through, directory, bits)
    total = _narrow(queries, through, lo, hi, keys)
    hit_query = np.empty(total, np.int64)
    hit_output = np.empty(total, np.int64)
    n = 0
    for x in range(through.shape[0]):
        for j in range(lo[x], hi[x]):
            hit_query[n] = through[x]
            hit_output[n] = postings[j]
            n += 1
    return hit_query, hit_output


def probe_segment(segment: Segment, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _probe(  # type: ignore[no-any-return]
        queries,
        segment.keys,
        segment.postings,
        segment.directory,
        segment.filter,
        segment.bits,
    )


def probe(index: Index, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(query position, output number)`` whose fingerprint is in the index; each
    segment's come in query order."""
    parts = [probe_segment(seg, queries) for seg in index.segments]
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
