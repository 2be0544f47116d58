"""How dense a candidate's evidence is where it lies in the document.

A copy of an output, even an edited one, is a stretch of the document where most fingerprints
belong to the output. Two unrelated files that share a few idioms (a loop that flattens
``arguments``, an ``argparse`` set-up) share them scattered through a long stretch full of
other fingerprints. ``density`` tells them apart: the share of the document's fingerprints,
between the first and the last one that matched, that are the output's.
"""

# mypy: disable-error-code="no-any-return"
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def _runs(q_doc, q_hash, q_start, q_end, docs):  # type: ignore[no-untyped-def]
    """Where each (channel, document)'s fingerprints lie in the query arrays, and whether each
    lies in one run in text order (how the Fingerprinter writes them), so that positions can
    be found by bisection."""
    begin = np.full((2, docs), -1, np.int64)
    end = np.zeros((2, docs), np.int64)
    ordered = True
    for i in range(q_doc.shape[0]):
        c = np.int64(q_hash[i] & np.uint64(1))
        d = q_doc[i]
        if begin[c, d] < 0:
            begin[c, d] = i
        elif end[c, d] != i or q_start[i] < q_start[i - 1] or q_end[i] < q_end[i - 1]:
            ordered = False
        end[c, d] = i + 1
    return begin, end, ordered


@nb.njit(cache=True)
def _inside(q_doc, q_hash, q_start, q_end, b, e, d, c, lo, hi, ordered):  # type: ignore[no-untyped-def]
    """How many of document ``d``'s channel-``c`` fingerprints lie within ``[lo, hi)``."""
    if ordered:
        first = np.searchsorted(q_start[b:e], lo, side="left")
        return np.searchsorted(q_end[b:e], hi, side="right") - first
    inside = 0
    for i in range(b, e):
        mine = q_doc[i] == d and np.int64(q_hash[i] & np.uint64(1)) == c
        if mine and q_start[i] >= lo and q_end[i] <= hi:
            inside += 1
    return inside


@nb.njit(cache=True)
def density(groups, doc, channel, matched, first, stop, query, q_doc, q_hash, q_start, q_end, docs):  # type: ignore[no-untyped-def]
    """For each group in ``groups``: its distinct matched fingerprints over the document's
    fingerprints (same channel) that lie between its first and last matched byte."""
    begin, end, ordered = _runs(q_doc, q_hash, q_start, q_end, docs)
    out = np.empty(groups.shape[0], np.float64)
    for t in range(groups.shape[0]):
        g = groups[t]
        lo = np.int64(1) << 62
        hi = np.int64(-1)
        for j in range(first[g], stop[g]):
            lo = min(lo, q_start[query[j]])
            hi = max(hi, q_end[query[j]])
        d, c = doc[g], channel[g]
        b, e = max(begin[c, d], 0), end[c, d]
        inside = _inside(q_doc, q_hash, q_start, q_end, b, e, d, c, lo, hi, ordered)
        out[t] = matched[g] / max(inside, 1)
    return out
