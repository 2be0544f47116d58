"""Look fingerprints up in an index: numba kernels over the memory-mapped arrays."""

from __future__ import annotations

import numba as nb
import numpy as np

from distillguard.index.store import Index, Segment


@nb.njit(cache=True)
def _find(hashes, directory, shift, q):  # type: ignore[no-untyped-def]
    b = np.int64(q >> np.uint64(shift))
    lo = directory[b]
    hi = directory[b + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if hashes[mid] < q:
            lo = mid + 1
        else:
            hi = mid
    if lo < directory[b + 1] and hashes[lo] == q:
        return lo
    return -1


@nb.njit(cache=True)
def _is_stopped(stop, q):  # type: ignore[no-untyped-def]
    i = np.searchsorted(stop, q)
    return i < stop.shape[0] and stop[i] == q


@nb.njit(cache=True)
def _probe(queries, hashes, offsets, postings, directory, shift, stop):  # type: ignore[no-untyped-def]
    found = np.empty(queries.shape[0], np.int64)
    total = 0
    for i in range(queries.shape[0]):
        u = _find(hashes, directory, shift, queries[i])
        if u >= 0 and stop.shape[0] and _is_stopped(stop, queries[i]):
            u = -1
        found[i] = u
        if u >= 0:
            total += offsets[u + 1] - offsets[u]
    hit_query = np.empty(total, np.int64)
    hit_output = np.empty(total, np.int64)
    n = 0
    for i in range(queries.shape[0]):
        u = found[i]
        if u < 0:
            continue
        for j in range(offsets[u], offsets[u + 1]):
            hit_query[n] = i
            hit_output[n] = postings[j]
            n += 1
    return hit_query, hit_output


def probe_segment(
    segment: Segment, queries: np.ndarray, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    return _probe(  # type: ignore[no-any-return]
        queries,
        segment.hashes,
        segment.offsets,
        segment.postings,
        segment.directory,
        segment.shift,
        stop,
    )


def probe(index: Index, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(query position, output number)`` whose fingerprint is in the index."""
    parts = [probe_segment(seg, queries, index.stop) for seg in index.segments]
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
