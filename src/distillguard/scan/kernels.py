"""Numba kernels of the matcher: group probe hits, count evidence, merge spans.

A *hit* is one (query fingerprint, output) pair the index returned; a *group* is every hit of
one (document, output, channel), keyed ``doc << 33 | output << 1 | channel``.
"""

# mypy: disable-error-code="no-any-return"
from __future__ import annotations

import numba as nb
import numpy as np

FIBONACCI = np.uint64(0x9E3779B97F4A7C15)


def changes(values: np.ndarray) -> np.ndarray:
    """True where a sorted array's value differs from the one before (and at 0)."""
    out = np.ones(values.shape[0], dtype=bool)
    np.not_equal(values[1:], values[:-1], out=out[1:])
    return out


@nb.njit(cache=True)
def frequent(keys: np.ndarray, at_least: int) -> np.ndarray:
    """Which entries have a key that occurs at least ``at_least`` times (one hash-table pass)."""
    n = keys.shape[0]
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    mask = (1 << bits) - 1
    table = np.zeros(mask + 1, np.uint64)
    counts = np.zeros(mask + 1, np.int64)
    slots = np.empty(n, np.int64)
    for i in range(n):
        key = keys[i] + np.uint64(1)  # 0 marks an empty slot
        slot = np.int64((key * FIBONACCI) >> np.uint64(64 - bits))
        while table[slot] != 0 and table[slot] != key:
            slot = (slot + 1) & mask
        table[slot] = key
        counts[slot] += 1
        slots[i] = slot
    keep = np.empty(n, np.bool_)
    for i in range(n):
        keep[i] = counts[slots[i]] >= at_least
    return keep


@nb.njit(cache=True)
def tally(hit_q, hit_out, q_doc, q_hash, allowed, least):  # type: ignore[no-untyped-def]
    """Group the hits of allowed outputs; keep groups of at least ``least`` hits.

    Returns ``(key, first, stop, matched, query)``: per group its key, the range
    ``query[first:stop]`` of its hits' query positions, and ``matched``, the number of distinct
    fingerprints among them. Groups come sorted by key.
    """
    n = hit_q.shape[0]
    keys = np.empty(n, np.uint64)
    where = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        o = hit_out[i]
        if allowed[o]:
            q = hit_q[i]
            channel = q_hash[q] & np.uint64(1)
            keys[m] = (np.uint64(q_doc[q]) << np.uint64(33)) | (np.uint64(o) << np.uint64(1))
            keys[m] |= channel
            where[m] = q
            m += 1
    keep = np.flatnonzero(frequent(keys[:m], least))
    keys, where = keys[keep], where[keep]
    order = np.argsort(keys)
    keys, query = keys[order], where[order]
    count = 0
    for i in range(keys.shape[0]):
        if i == 0 or keys[i] != keys[i - 1]:
            count += 1
    g_key = np.empty(count, np.uint64)
    first = np.empty(count, np.int64)
    stop = np.empty(count, np.int64)
    matched = np.empty(count, np.int64)
    g = -1
    for i in range(keys.shape[0]):
        if i == 0 or keys[i] != keys[i - 1]:
            g += 1
            g_key[g] = keys[i]
            first[g] = i
        stop[g] = i + 1
    for g in range(count):
        hashes = np.sort(q_hash[query[first[g] : stop[g]]])
        distinct = 1
        for j in range(1, hashes.shape[0]):
            if hashes[j] != hashes[j - 1]:
                distinct += 1
        matched[g] = distinct
    return g_key, first, stop, matched, query


@nb.njit(cache=True)
def merged_spans(keep, bounds, first, stop, query, q_start, q_end):  # type: ignore[no-untyped-def]
    """The byte spans of each candidate's matched fingerprints, sorted and merged.

    Candidate ``c`` holds groups ``keep[bounds[c]:bounds[c + 1]]``, whose hits are
    ``query[first[g]:stop[g]]``. Returns ``(start, end, span_bounds)``: candidate ``c``'s merged
    spans are ``start[span_bounds[c]:span_bounds[c + 1]]`` (and ``end``).
    """
    total = 0
    for i in range(keep.shape[0]):
        total += stop[keep[i]] - first[keep[i]]
    out_s = np.empty(total, np.int64)
    out_e = np.empty(total, np.int64)
    span_bounds = np.zeros(bounds.shape[0], np.int64)
    n = 0
    for c in range(bounds.shape[0] - 1):
        size = 0
        for i in range(bounds[c], bounds[c + 1]):
            size += stop[keep[i]] - first[keep[i]]
        s = np.empty(size, np.int64)
        e = np.empty(size, np.int64)
        m = 0
        for i in range(bounds[c], bounds[c + 1]):
            for j in range(first[keep[i]], stop[keep[i]]):
                s[m] = q_start[query[j]]
                e[m] = q_end[query[j]]
                m += 1
        order = np.argsort(s)
        for t in range(size):
            a, b = s[order[t]], e[order[t]]
            if t > 0 and a <= out_e[n - 1]:
                out_e[n - 1] = max(out_e[n - 1], b)
            else:
                out_s[n] = a
                out_e[n] = b
                n += 1
        span_bounds[c + 1] = n
    return out_s[:n], out_e[:n], span_bounds
