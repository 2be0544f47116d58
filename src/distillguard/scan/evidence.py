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
def _ranges(q_doc, q_hash, docs):  # type: ignore[no-untyped-def]
    """Where each (channel, document)'s fingerprints lie in the query arrays: the
    Fingerprinter writes them channel by channel, document by document, in text order."""
    begin = np.zeros((2, docs), np.int64)
    end = np.zeros((2, docs), np.int64)
    seen = np.zeros((2, docs), np.bool_)
    for i in range(q_doc.shape[0]):
        c = np.int64(q_hash[i] & np.uint64(1))
        d = q_doc[i]
        if not seen[c, d]:
            seen[c, d] = True
            begin[c, d] = i
        end[c, d] = i + 1
    return begin, end


@nb.njit(cache=True)
def density(groups, doc, channel, matched, first, stop, query, q_doc, q_hash, q_start, q_end, docs):  # type: ignore[no-untyped-def]
    """For each group in ``groups``: its distinct matched fingerprints over the document's
    fingerprints (same channel) that lie between its first and last matched byte."""
    begin, end = _ranges(q_doc, q_hash, docs)
    out = np.empty(groups.shape[0], np.float64)
    for t in range(groups.shape[0]):
        g = groups[t]
        lo = np.int64(1) << 62
        hi = np.int64(-1)
        for j in range(first[g], stop[g]):
            lo = min(lo, q_start[query[j]])
            hi = max(hi, q_end[query[j]])
        b, e = begin[channel[g], doc[g]], end[channel[g], doc[g]]
        inside = np.searchsorted(q_end[b:e], hi, side="right") - np.searchsorted(
            q_start[b:e], lo, side="left"
        )
        out[t] = matched[g] / max(inside, 1)
    return out
