"""Find recorded outputs in documents: fingerprint a batch, probe the index, weigh evidence.

A document contains an output when the share of the output's fingerprints found in it
(containment) is high enough *and* the evidence is substantial (enough distinct fingerprints,
so trivial snippets never count); or when the document holds a long stretch of a large output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np

from distillguard.fingerprint import EncodedBatch, Fingerprinter
from distillguard.index.probe import probe
from distillguard.index.store import Index
from distillguard.model import Match


@dataclass(frozen=True)
class MatchParams:
    """When a document counts as containing an output.

    ``min_containment`` of the output's fingerprints (in one channel) with at least
    ``min_fingerprints`` of them, or ``large_fingerprints`` of a long output; and in any case
    the evidence must cover ``min_chars`` characters of the document.
    """

    min_containment: float = 0.3
    min_fingerprints: int = 4
    large_fingerprints: int = 40
    min_chars: int = 120


@dataclass(frozen=True)
class _Hits:
    """Probe results for one batch, grouped by (document, output, channel)."""

    doc: np.ndarray
    output: np.ndarray
    channel: np.ndarray
    matched: np.ndarray
    first: np.ndarray
    stop: np.ndarray
    query: np.ndarray


class Matcher:
    """Matches batches of documents against an opened index."""

    def __init__(
        self, index: Index, wanted: Callable[[str], bool], params: MatchParams | None = None
    ) -> None:
        self.index = index
        self.params = params or MatchParams()
        self.fp = Fingerprinter(index.manifest.fingerprint_config())
        vendors = index.manifest.vendors
        vendor_ok = np.array([wanted(v) for v in vendors] or [False], dtype=bool)
        self._allowed = vendor_ok[index.outputs.vendor] if len(vendors) else np.zeros(0, bool)
        # Containment denominators, by channel (CODE = 0, TEXT = 1).
        self._nfp = np.stack([index.outputs.nfp_code, index.outputs.nfp_text])
        self._prose = index.manifest.has_prose

    def match(self, texts: Sequence[str]) -> list[list[Match]]:
        """For each text, the outputs found in it, best first."""
        results: list[list[Match]] = [[] for _ in texts]
        if not texts or not self._allowed.any():
            return results
        batch = EncodedBatch(texts)
        q_hash, q_doc, q_start, q_end = self.fp.both(batch, prose=self._prose)
        hits = self._group(q_hash, q_doc)
        if hits is None:
            return results
        containment = hits.matched / np.maximum(self._nfp[hits.channel, hits.output], 1)
        keep = np.flatnonzero(self._decide(hits.matched, containment))
        if not keep.shape[0]:
            return results
        # A candidate is one (document, output): its kept groups (one per channel) are adjacent.
        firsts = np.flatnonzero(_changes(hits.doc[keep]) | _changes(hits.output[keep]))
        bounds = np.append(firsts, keep.shape[0])
        span_start, span_end, span_bounds = _merged_spans(
            keep, bounds, hits.first, hits.stop, hits.query, q_start, q_end
        )
        for c, g in enumerate(keep[firsts].tolist()):
            doc = int(hits.doc[g])
            lo, hi = span_bounds[c], span_bounds[c + 1]
            starts = batch.char_offsets(doc, span_start[lo:hi])
            ends = batch.char_offsets(doc, span_end[lo:hi])
            if int((ends - starts).sum()) < self.params.min_chars:
                continue  # a one-liner is never substantial evidence
            mine = keep[bounds[c] : bounds[c + 1]]
            best = int(mine[np.argmax(containment[mine])])
            spans = tuple(zip(starts.tolist(), ends.tolist(), strict=True))
            results[doc].append(
                self._match(
                    int(hits.output[g]), int(hits.matched[best]), float(containment[best]), spans
                )
            )
        for found_in_doc in results:
            found_in_doc.sort(key=lambda m: (-m.containment, m.output_id))
        return results

    def _group(self, q_hash: np.ndarray, q_doc: np.ndarray) -> _Hits | None:
        hit_q, hit_out = probe(self.index, q_hash)
        allowed = self._allowed[hit_out]
        hit_q, hit_out = hit_q[allowed], hit_out[allowed]
        if not hit_q.shape[0]:
            return None
        doc, h = q_doc[hit_q], q_hash[hit_q]
        channel = (h & np.uint64(1)).astype(np.int64)
        # Most hits are noise: a few shared k-grams. Only groups with enough hits can match.
        least = min(self.params.min_fingerprints, self.params.large_fingerprints)
        packed = (doc.astype(np.uint64) << np.uint64(33)) | (
            hit_out.astype(np.uint64) << np.uint64(1)
        )
        often = _often(packed | channel.astype(np.uint64), least)
        doc, h, channel, hit_out, hit_q = (
            doc[often],
            h[often],
            channel[often],
            hit_out[often],
            hit_q[often],
        )
        if not hit_q.shape[0]:
            return None
        order = np.lexsort((h, channel, hit_out, doc))
        doc, out, channel, h = doc[order], hit_out[order], channel[order], h[order]
        hit_q = hit_q[order]
        new_group = _changes(doc) | _changes(out) | _changes(channel)
        new_hash = new_group | _changes(h)
        starts = np.flatnonzero(new_group)
        group = np.cumsum(new_group) - 1
        matched = np.bincount(group, weights=new_hash).astype(np.int64)
        stops = np.append(starts[1:], doc.shape[0])
        return _Hits(doc[starts], out[starts], channel[starts], matched, starts, stops, hit_q)

    def _decide(self, matched: np.ndarray, containment: np.ndarray) -> np.ndarray:
        p = self.params
        ordinary = (containment >= p.min_containment) & (matched >= p.min_fingerprints)
        return ordinary | (matched >= p.large_fingerprints)

    def _match(
        self, number: int, matched: int, containment: float, spans: tuple[tuple[int, int], ...]
    ) -> Match:
        names = self.index.manifest
        return Match(
            output_id=self.index.output_id(number),
            vendor=names.vendors[int(self.index.outputs.vendor[number])],
            model=names.models[int(self.index.outputs.model[number])],
            containment=round(min(1.0, containment), 4),
            spans=spans,
            matched=matched,
        )


_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)


def _changes(values: np.ndarray) -> np.ndarray:
    """True where a sorted array's value differs from the one before (and at 0)."""
    out = np.ones(values.shape[0], dtype=bool)
    np.not_equal(values[1:], values[:-1], out=out[1:])
    return out


@nb.njit(cache=True)
def _often(keys: np.ndarray, at_least: int) -> np.ndarray:
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
        slot = np.int64((key * _FIBONACCI) >> np.uint64(64 - bits))
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
def _merged_spans(keep, bounds, first, stop, query, q_start, q_end):  # type: ignore[no-untyped-def]
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
