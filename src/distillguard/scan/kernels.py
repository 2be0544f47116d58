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
def _group_keys(hit_q, hit_out, q_doc, q_hash, allowed):  # type: ignore[no-untyped-def]
    """The group key and query position of every hit of an allowed output."""
    n = hit_q.shape[0]
    keys = np.empty(n, np.uint64)
    where = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        o = hit_out[i]
        if allowed[o]:
            q = hit_q[i]
            key = (np.uint64(q_doc[q]) << np.uint64(33)) | (np.uint64(o) << np.uint64(1))
            keys[m] = key | (q_hash[q] & np.uint64(1))
            where[m] = q
            m += 1
    return keys[:m], where[:m]


@nb.njit(cache=True)
def _slots(keys):  # type: ignore[no-untyped-def]
    """An open-addressing table of the distinct keys (``key + 1``; 0 marks an empty slot),
    the hits per slot, and each hit's slot."""
    n = keys.shape[0]
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    mask = (1 << bits) - 1
    table = np.zeros(mask + 1, np.uint64)
    counts = np.zeros(mask + 1, np.int64)
    slots = np.empty(n, np.int64)
    for i in range(n):
        key = keys[i] + np.uint64(1)
        slot = np.int64((key * FIBONACCI) >> np.uint64(64 - bits))
        while table[slot] != 0 and table[slot] != key:
            slot = (slot + 1) & mask
        table[slot] = key
        counts[slot] += 1
        slots[i] = slot
    return table, counts, slots


@nb.njit(cache=True)
def _sort_small(values):  # type: ignore[no-untyped-def]
    """Sort in place; insertion sort below 24 values (most groups: a sort call costs more)."""
    if values.shape[0] > 24:
        values.sort()
        return
    for i in range(1, values.shape[0]):
        v = values[i]
        j = i - 1
        while j >= 0 and values[j] > v:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = v


@nb.njit(cache=True)
def _distinct(q_hash, query, first, stop):  # type: ignore[no-untyped-def]
    """Per group, the number of distinct fingerprints among its hits."""
    matched = np.empty(first.shape[0], np.int64)
    hashes = np.empty(query.shape[0], np.uint64)
    for j in range(query.shape[0]):
        hashes[j] = q_hash[query[j]]
    for g in range(first.shape[0]):
        mine = hashes[first[g] : stop[g]]
        _sort_small(mine)
        distinct = 1
        for j in range(1, mine.shape[0]):
            if mine[j] != mine[j - 1]:
                distinct += 1
        matched[g] = distinct
    return matched


@nb.njit(cache=True)
def tally(hit_q, hit_out, q_doc, q_hash, allowed, least):  # type: ignore[no-untyped-def]
    """Group the hits of allowed outputs; keep groups of at least ``least`` hits.

    Returns ``(key, first, stop, matched, query)``: per group its key, the range
    ``query[first:stop]`` of its hits' query positions, and ``matched``, the number of distinct
    fingerprints among them. Groups come sorted by key. Hits are counted per key in one
    hash-table pass; only the groups kept are sorted, and their hits placed by counting.
    """
    keys, where = _group_keys(hit_q, hit_out, q_doc, q_hash, allowed)
    table, counts, slots = _slots(keys)
    kept = np.flatnonzero(counts >= least)
    g_key = table[kept] - np.uint64(1)
    order = np.argsort(g_key)
    g_key = g_key[order]
    group_of = np.full(table.shape[0], -1, np.int64)
    first = np.empty(kept.shape[0], np.int64)
    stop = np.empty(kept.shape[0], np.int64)
    total = 0
    for g in range(kept.shape[0]):
        slot = kept[order[g]]
        group_of[slot] = g
        first[g] = total
        total += counts[slot]
        stop[g] = total
    query = np.empty(total, np.int64)
    fill = first.copy()
    for i in range(keys.shape[0]):
        g = group_of[slots[i]]
        if g >= 0:
            query[fill[g]] = where[i]
            fill[g] += 1
    return g_key, first, stop, _distinct(q_hash, query, first, stop), query


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
