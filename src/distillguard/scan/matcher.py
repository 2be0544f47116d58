"""Find recorded outputs in documents: fingerprint a batch, probe the index, weigh evidence.

A document contains an output when the share of the output's fingerprints found in it
(containment) is high enough *and* the evidence is substantial (enough distinct fingerprints,
so trivial snippets never count) *and* dense (most of the document's fingerprints where the
matches lie are the output's: see :mod:`distillguard.scan.evidence`); or when the document
holds a long stretch of a large output.

The same rules hold for each *part* of an output of several (a function, a code block, a
paragraph: :mod:`distillguard.fingerprint.parts`), against the part alone, counting only the
fingerprints specific to its output: a document holding one function of a long answer holds
outside output, whatever share of the answer that function is. The index posts each
fingerprint to its part; hits are tallied per output and per part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from distillguard.fingerprint import CODE, TEXT, EncodedBatch, Fingerprinter
from distillguard.index.probe import probe
from distillguard.index.sets import KIND_SHARED, KINDS
from distillguard.index.store import Index
from distillguard.model import Match, PartMatch
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
    """Probe results for one batch, grouped by (document, owner, channel): the owner is an
    output, or a part of one."""

    key: np.ndarray
    doc: np.ndarray
    owner: np.ndarray
    channel: np.ndarray
    matched: np.ndarray
    first: np.ndarray
    stop: np.ndarray
    query: np.ndarray

    @classmethod
    def of(cls, key: np.ndarray, rest: tuple[np.ndarray, ...]) -> _Hits:
        doc = (key >> np.uint64(33)).astype(np.int64)
        owner = ((key >> np.uint64(1)) & np.uint64(0xFFFFFFFF)).astype(np.int64)
        channel = (key & np.uint64(1)).astype(np.int64)
        first, stop, matched, query = rest
        return cls(key, doc, owner, channel, matched, first, stop, query)


@dataclass(frozen=True)
class _Kept:
    """The groups that are evidence enough, of the whole outputs and of their parts, as one
    set of groups: parts' groups come after the outputs' (``doc`` and ``output``: each kept
    group's document and output)."""

    groups: np.ndarray
    doc: np.ndarray
    output: np.ndarray
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
        table = index.outputs
        vendors = index.manifest.vendors
        vendor_ok = np.array([wanted(v) for v in vendors] or [False], dtype=bool)
        self._allowed = vendor_ok[table.vendor] if len(vendors) else np.zeros(0, bool)
        self._part_output = np.asarray(table.part_output, dtype=np.int64)
        # Parts are judged on their own only in outputs of more than one part, and only those
        # made mostly of their output's own fingerprints (see ``index.build``); an output's
        # ``shared`` part (what other outputs hold too) never is.
        own = np.asarray(table.part_kind) != KIND_SHARED
        many = np.bincount(self._part_output[own], minlength=table.ids.shape[0]) > 1
        alone = np.asarray(table.part_alone, dtype=bool)
        self._allowed_part = (self._allowed & many)[self._part_output] & own & alone
        # Containment denominators, by channel (CODE = 0, TEXT = 1).
        self._nfp = np.stack([table.nfp_code, table.nfp_text])
        self._part_nfp = np.stack([table.part_nfp_code, table.part_nfp_text])
        self._prose = index.manifest.has_prose

    def match(self, texts: Sequence[str]) -> list[list[Match]]:
        """For each text, the outputs found in it, best first."""
        results: list[list[Match]] = [[] for _ in texts]
        if not texts or not self._allowed.any():
            return results
        batch = EncodedBatch(texts)
        q_hash, q_doc, q_start, q_end = self.fp.both(batch, prose=self._prose)
        queries = (q_hash, q_doc, q_start, q_end)
        hit_q, hit_part = probe(self.index, q_hash)
        whole = self._group(hit_q, self._part_output[hit_part], q_doc, q_hash, self._allowed)
        if whole is None:
            return results
        parts = self._group(hit_q, hit_part, q_doc, q_hash, self._allowed_part)
        containment = whole.matched / np.maximum(self._nfp[whole.channel, whole.owner], 1)
        kept = self._kept(whole, containment, parts, queries, len(texts))
        if not kept.groups.shape[0]:
            return results
        # A candidate is one (document, output): its kept groups are adjacent.
        k_doc, k_out = kept.doc, kept.output
        new = kernels.changes(k_doc) | kernels.changes(k_out)
        firsts = np.flatnonzero(new)
        bounds = np.append(firsts, kept.groups.shape[0])
        span_start, span_end, span_bounds = kernels.merged_spans(
            kept.groups, bounds, kept.first, kept.stop, kept.query, q_start, q_end
        )
        for c, at in enumerate(firsts.tolist()):
            doc, output = int(k_doc[at]), int(k_out[at])
            lo, hi = span_bounds[c], span_bounds[c + 1]
            starts = batch.char_offsets(doc, span_start[lo:hi])
            ends = batch.char_offsets(doc, span_end[lo:hi])
            if int((ends - starts).sum()) < self.params.min_chars:
                continue  # a one-liner is never substantial evidence
            spans = tuple(zip(starts.tolist(), ends.tolist(), strict=True))
            mine = kept.groups[bounds[c] : bounds[c + 1]]
            found = self._parts_found(parts, mine - whole.key.shape[0])
            results[doc].append(self._match(whole, containment, doc, output, spans, found))
        for found_in_doc in results:
            found_in_doc.sort(key=lambda m: (-m.containment, m.output_id))
        return results

    def _group(
        self,
        hit_q: np.ndarray,
        hit_owner: np.ndarray,
        q_doc: np.ndarray,
        q_hash: np.ndarray,
        allowed: np.ndarray,
    ) -> _Hits | None:
        # Most hits are noise (a few shared k-grams): only groups with enough hits can match.
        p = self.params
        least = min(p.min_fingerprints, p.whole_fingerprints, p.large_fingerprints)
        key, first, stop, matched, query = kernels.tally(
            hit_q, hit_owner, q_doc, q_hash, allowed, least
        )
        if not key.shape[0]:
            return None
        return _Hits.of(key, (first, stop, matched, query))

    def _kept(
        self,
        whole: _Hits,
        containment: np.ndarray,
        parts: _Hits | None,
        queries: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        docs: int,
    ) -> _Kept:
        """The groups that are evidence: of a whole output, or of one part of it (judged by
        the same rules against the part alone), sorted by (document, output)."""
        groups = self._decide(whole, containment, self._nfp[CODE], queries, docs)
        output = whole.owner[groups]
        first, stop, query = whole.first, whole.stop, whole.query
        if parts is not None:
            part_c = parts.matched / np.maximum(self._part_nfp[parts.channel, parts.owner], 1)
            found = self._decide(parts, part_c, self._part_nfp[CODE], queries, docs)
            shift = whole.key.shape[0]
            groups = np.concatenate([groups, found + shift])
            output = np.concatenate([output, self._part_output[parts.owner[found]]])
            first = np.concatenate([first, parts.first + query.shape[0]])
            stop = np.concatenate([stop, parts.stop + query.shape[0]])
            query = np.concatenate([query, parts.query])
        doc = np.concatenate([whole.doc, parts.doc if parts else np.empty(0, np.int64)])
        order = np.lexsort((groups, output, doc[groups]))
        return _Kept(groups[order], doc[groups][order], output[order], first, stop, query)

    def _decide(
        self,
        hits: _Hits,
        containment: np.ndarray,
        code_nfp: np.ndarray,
        queries: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        docs: int,
    ) -> np.ndarray:
        """Positions of the groups that are evidence enough; ``code_nfp``: the owners' code
        fingerprint counts."""
        p = self.params
        large = hits.matched >= p.large_fingerprints
        code_as_text = (hits.channel == TEXT) & (code_nfp[hits.owner] > 0)
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

    def _parts_found(self, parts: _Hits | None, groups: np.ndarray) -> tuple[PartMatch, ...]:
        """The parts among a candidate's kept groups (positions in ``parts``; negative ones
        are whole-output groups), best containment per part, in the output's order."""
        if parts is None:
            return ()
        best: dict[int, float] = {}
        for g in groups[groups >= 0].tolist():
            part = int(parts.owner[g])
            share = parts.matched[g] / max(int(self._part_nfp[parts.channel[g], part]), 1)
            best[part] = max(best.get(part, 0.0), float(share))
        table = self.index.outputs
        return tuple(
            PartMatch(
                index=int(table.part_index[part]),
                kind=KINDS[int(table.part_kind[part])],
                lines=(int(table.part_first_line[part]), int(table.part_last_line[part])),
                containment=round(min(1.0, share), 4),
            )
            for part, share in sorted(best.items(), key=lambda kv: int(table.part_index[kv[0]]))
        )

    def _match(
        self,
        whole: _Hits,
        containment: np.ndarray,
        doc: int,
        output: int,
        spans: tuple[tuple[int, int], ...],
        parts: tuple[PartMatch, ...],
    ) -> Match:
        """The match of ``output`` in ``doc``: containment over the whole output (its best
        channel), with the parts found."""
        key = (np.uint64(doc) << np.uint64(33)) | (np.uint64(output) << np.uint64(1))
        lo = int(np.searchsorted(whole.key, key, side="left"))
        hi = int(np.searchsorted(whole.key, key | np.uint64(1), side="right"))
        best = int(lo + np.argmax(containment[lo:hi]))
        names = self.index.manifest
        return Match(
            output_id=self.index.output_id(output),
            vendor=names.vendors[int(self.index.outputs.vendor[output])],
            model=names.models[int(self.index.outputs.model[output])],
            containment=round(min(1.0, float(containment[best])), 4),
            spans=spans,
            matched=int(whole.matched[best]),
            parts=parts,
        )
