"""Look fingerprints up in an index: numba kernels over the memory-mapped arrays."""

from __future__ import annotations

import numba as nb
import numpy as np

from distillguard.index.store import Index, Segment


@nb.njit(cache=True)
def _first(keys, directory, bits, q):  # type: ignore[no-untyped-def]
    """First row holding hash ``q``, or -1."""
    b = np.int64(q >> np.uint64(64 - bits))
    key = np.uint32(q & np.uint64(0xFFFFFFFF))
    end = np.int64(directory[b + 1])
    for j in range(np.int64(directory[b]), end):  # about two keys per bucket, sorted
        if keys[j] >= key:
            return j if keys[j] == key else -1
    return -1


@nb.njit(cache=True)
def _is_stopped(stop, q):  # type: ignore[no-untyped-def]
    i = np.searchsorted(stop, q)
    return i < stop.shape[0] and stop[i] == q


@nb.njit(cache=True)
def _page_order(queries):  # type: ignore[no-untyped-def]
    """Query positions ordered by the top 16 bits of their hash (a counting sort), so that
    lookups sweep the memory-mapped directory and keys in order instead of at random."""
    counts = np.zeros((1 << 16) + 1, np.int64)
    for i in range(queries.shape[0]):
        counts[np.int64(queries[i] >> np.uint64(48)) + 1] += 1
    for t in range(1, counts.shape[0]):
        counts[t] += counts[t - 1]
    order = np.empty(queries.shape[0], np.int64)
    for i in range(queries.shape[0]):
        top = np.int64(queries[i] >> np.uint64(48))
        order[counts[top]] = i
        counts[top] += 1
    return order


@nb.njit(cache=True)
def _probe(queries, keys, postings, directory, bits, stop):  # type: ignore[no-untyped-def]
    order = _page_order(queries)
    first = np.empty(queries.shape[0], np.int64)
    count = np.zeros(queries.shape[0], np.int64)
    total = 0
    for i in range(queries.shape[0]):
        q = queries[order[i]]
        u = _first(keys, directory, bits, q)
        if u >= 0 and stop.shape[0] and _is_stopped(stop, q):
            u = -1
        first[i] = u
        if u >= 0:
            end = np.int64(directory[np.int64(q >> np.uint64(64 - bits)) + 1])
            j = u
            while j < end and keys[j] == keys[u]:
                j += 1
            count[i] = j - u
            total += j - u
    hit_query = np.empty(total, np.int64)
    hit_output = np.empty(total, np.int64)
    n = 0
    for i in range(queries.shape[0]):
        for j in range(first[i], first[i] + count[i]):
            hit_query[n] = order[i]
            hit_output[n] = postings[j]
            n += 1
    return hit_query, hit_output


def probe_segment(
    segment: Segment, queries: np.ndarray, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    return _probe(  # type: ignore[no-any-return]
        queries, segment.keys, segment.postings, segment.directory, segment.bits, stop
    )


def probe(index: Index, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(query position, output number)`` whose fingerprint is in the index."""
    parts = [probe_segment(seg, queries, index.stop) for seg in index.segments]
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
