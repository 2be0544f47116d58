"""Find recorded outputs in documents: fingerprint a batch, probe the index, weigh evidence.

A document contains an output when the share of the output's fingerprints found in it
(containment) is high enough *and* the evidence is substantial (enough distinct fingerprints,
so trivial snippets never count) *and* dense (most of the document's fingerprints where the
matches lie are the output's: see :mod:`distillguard.scan.evidence`); or when the document
holds a long stretch of a large output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from distillguard.fingerprint import CODE, TEXT, EncodedBatch, Fingerprinter
from distillguard.index.probe import probe
from distillguard.index.store import Index
from distillguard.model import Match
from distillguard.scan import evidence, kernels


@dataclass(frozen=True)
class MatchParams:
    """When a document counts as containing an output.

    ``min_containment`` of the output's fingerprints (in one channel) with at least
    ``min_fingerprints`` of them, making at least ``min_density`` of the document's
    fingerprints between the first and the last match; or ``large_fingerprints`` of a long
    output. In any case the evidence must cover ``min_chars`` characters of the document.
    An output that has code fingerprints, matched through the text channel (its code and
    comments read as words: unspecific for code, and blind to renaming), needs
    ``code_text_containment`` there instead. A small output found whole (every one of its
    fingerprints) needs only ``whole_fingerprints`` of them.
    """

    min_containment: float = 0.25
    code_text_containment: float = 0.4
    min_fingerprints: int = 3
    whole_fingerprints: int = 2
    min_density: float = 0.3
    large_fingerprints: int = 40
    min_chars: int = 100


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
        keep = self._decide(hits, containment, (q_hash, q_doc, q_start, q_end), len(texts))
        if not keep.shape[0]:
            return results
        # A candidate is one (document, output): its kept groups (one per channel) are adjacent.
        new = kernels.changes(hits.doc[keep]) | kernels.changes(hits.output[keep])
        firsts = np.flatnonzero(new)
        bounds = np.append(firsts, keep.shape[0])
        span_start, span_end, span_bounds = kernels.merged_spans(
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
        # Most hits are noise (a few shared k-grams): only groups with enough hits can match.
        p = self.params
        least = min(p.min_fingerprints, p.whole_fingerprints, p.large_fingerprints)
        key, first, stop, matched, query = kernels.tally(
            hit_q, hit_out, q_doc, q_hash, self._allowed, least
        )
        if not key.shape[0]:
            return None
        doc = (key >> np.uint64(33)).astype(np.int64)
        output = ((key >> np.uint64(1)) & np.uint64(0xFFFFFFFF)).astype(np.int64)
        channel = (key & np.uint64(1)).astype(np.int64)
        return _Hits(doc, output, channel, matched, first, stop, query)

    def _decide(
        self,
        hits: _Hits,
        containment: np.ndarray,
        queries: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        docs: int,
    ) -> np.ndarray:
        """Positions of the groups that are evidence enough."""
        p = self.params
        large = hits.matched >= p.large_fingerprints
        code_as_text = (hits.channel == TEXT) & (self._nfp[CODE, hits.output] > 0)
        least = np.where(
            code_as_text, max(p.code_text_containment, p.min_containment), p.min_containment
        )
        enough = (hits.matched >= p.min_fingerprints) | (
            (hits.matched >= p.whole_fingerprints) & (containment >= 1.0)
        )
        ordinary = (containment >= least) & enough
        check = np.flatnonzero(ordinary & ~large)
        if check.shape[0] and p.min_density > 0:
            q_hash, q_doc, q_start, q_end = queries
            dense = evidence.density(
                check, hits.doc, hits.channel, hits.matched, hits.first, hits.stop,
                hits.query, q_doc, q_hash, q_start, q_end, docs,
            )  # fmt: skip
            ordinary[check[dense < p.min_density]] = False
        return np.flatnonzero(ordinary | large)

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
