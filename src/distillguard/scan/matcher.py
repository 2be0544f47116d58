"""Find recorded outputs in documents: fingerprint a batch, probe the index, weigh evidence.

A document contains an output when the share of the output's fingerprints found in it
(containment) is high enough *and* the evidence is substantial (enough distinct fingerprints,
so trivial snippets never count); or when the document holds a long stretch of a large output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
        found: dict[tuple[int, int], list[int]] = {}
        for g in keep.tolist():
            found.setdefault((int(hits.doc[g]), int(hits.output[g])), []).append(g)
        for (doc, number), groups in found.items():
            queries = np.concatenate([hits.query[hits.first[g] : hits.stop[g]] for g in groups])
            spans = _spans(batch, doc, q_start[queries], q_end[queries])
            if sum(e - s for s, e in spans) < self.params.min_chars:
                continue  # a one-liner is never substantial evidence
            best = max(groups, key=lambda g: containment[g])
            results[doc].append(
                self._match(number, int(hits.matched[best]), float(containment[best]), spans)
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
        order = np.lexsort((h, channel, hit_out, doc))
        doc, out, channel, h = doc[order], hit_out[order], channel[order], h[order]
        hit_q = hit_q[order]
        new_group = np.r_[
            True,
            (doc[1:] != doc[:-1]) | (out[1:] != out[:-1]) | (channel[1:] != channel[:-1]),
        ]
        new_hash = new_group | np.r_[True, h[1:] != h[:-1]]
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


def _spans(
    batch: EncodedBatch, doc: int, start: np.ndarray, end: np.ndarray
) -> tuple[tuple[int, int], ...]:
    """Merged character spans of the matched fingerprints of one document."""
    s = batch.char_offsets(doc, start)
    e = batch.char_offsets(doc, end)
    order = np.argsort(s, kind="stable")
    s, reach = s[order], np.maximum.accumulate(e[order])
    first = np.flatnonzero(np.r_[True, s[1:] > reach[:-1]])
    last = np.r_[first[1:] - 1, s.shape[0] - 1]
    return tuple(zip(s[first].tolist(), reach[last].tolist(), strict=True))
