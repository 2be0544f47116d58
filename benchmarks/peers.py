"""Peer detectors, given a fair setup on the same corpus: datasketch MinHashLSH and
MinHashLSHEnsemble over token shingles, and copydetect's winnowing."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH, MinHashLSHEnsemble

from systems import Corpus, RunResult

TOKEN_RE = re.compile(r"[A-Za-z_$][\w$]*|\d+|[^\w\s]")
SHINGLE_K = 5
NUM_PERM = 128
MIN_SHINGLES = 10  # outputs with fewer distinct shingles are not indexed/queried (trivial)


def shingles(text: str, k: int = SHINGLE_K) -> set[bytes]:
    """Distinct k-token shingles of lower-cased identifier/number/punctuation tokens."""
    toks = [t.lower() for t in TOKEN_RE.findall(text)]
    if len(toks) < k:
        return {" ".join(toks).encode()} if toks else set()
    return {" ".join(toks[i : i + k]).encode() for i in range(len(toks) - k + 1)}


class Hasher:
    """MinHash factory sharing one set of permutations (what MinHash.bulk does)."""

    def __init__(self, num_perm: int = NUM_PERM) -> None:
        self.template = MinHash(num_perm=num_perm)

    def __call__(self, items: Iterable[bytes]) -> MinHash:
        mh = MinHash(
            num_perm=self.template.num_perm,
            permutations=self.template.permutations,
            scheme=self.template.scheme,
        )
        mh.update_batch(list(items))
        return mh


def _output_sketches(corpus: Corpus, hasher: Hasher) -> tuple[list[tuple[int, MinHash, int]], int]:
    sketches, skipped = [], 0
    for out in corpus.outputs:
        sh = shingles(out.text)
        if len(sh) < MIN_SHINGLES:
            skipped += 1
            continue
        sketches.append((out.idx, hasher(sh), len(sh)))
    return sketches, skipped


def run_minhash_lsh(corpus: Corpus, threshold: float = 0.5) -> RunResult:
    """Index the outputs in MinHashLSH (Jaccard); flag a document when any output is a candidate."""
    result = RunResult(name="minhash-lsh")
    hasher = Hasher()
    t0 = time.perf_counter()
    sketches, skipped = _output_sketches(corpus, hasher)
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    for idx, mh, _ in sketches:
        lsh.insert(idx, mh)
    result.index_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    for doc in corpus.docs:
        text = corpus.read(doc)
        result.scan_bytes += len(text.encode("utf-8"))
        sh = shingles(text)
        if sh and lsh.query(hasher(sh)):
            result.flagged.add(doc.relpath)
    result.scan_seconds = time.perf_counter() - t0
    result.params = _params(threshold=threshold, min_shingles=MIN_SHINGLES)
    result.notes.append(f"{skipped} outputs under {MIN_SHINGLES} shingles not indexed")
    return result


def run_lsh_ensemble(corpus: Corpus, threshold: float = 0.5, num_part: int = 16) -> RunResult:
    """Containment search: index the documents' shingle sets, query with each output's set,
    flag every document returned (|output ∩ doc| / |output| >= threshold, approximately)."""
    result = RunResult(name="lsh-ensemble")
    hasher = Hasher()
    t0 = time.perf_counter()
    sketches, skipped = _output_sketches(corpus, hasher)
    result.index_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    entries = []
    for doc in corpus.docs:
        text = corpus.read(doc)
        result.scan_bytes += len(text.encode("utf-8"))
        sh = shingles(text)
        if sh:
            entries.append((doc.relpath, hasher(sh), len(sh)))
    ensemble = MinHashLSHEnsemble(threshold=threshold, num_perm=NUM_PERM, num_part=num_part)
    ensemble.index(entries)
    for _, mh, size in sketches:
        result.flagged.update(ensemble.query(mh, size))
    result.scan_seconds = time.perf_counter() - t0
    result.params = _params(threshold=threshold, num_part=num_part, min_shingles=MIN_SHINGLES)
    result.notes.append(
        "scan time covers sketching and indexing the documents, then querying every output; "
        "index time is sketching the outputs"
    )
    result.notes.append(f"{skipped} outputs under {MIN_SHINGLES} shingles not queried")
    return result


def _params(**extra: object) -> dict[str, object]:
    return {"shingle": f"{SHINGLE_K} lower-cased tokens", "num_perm": NUM_PERM, **extra}


def _copydetect_group(
    corpus: Corpus, docs: list, outputs: list[Path], prose: bool
) -> tuple[np.ndarray, np.ndarray, list[str], float, float]:
    """One CopyDetector run; returns per-document max output-side and test-side similarity."""
    from copydetect import CopyDetector

    detector = CopyDetector(extensions=["*"], silent=True, autoopen=False, disable_filtering=prose)
    for path in outputs:
        detector.add_file(str(path), type="ref")
    for doc in docs:
        detector.add_file(str(corpus.doc_path(doc)), type="test")
    t0 = time.perf_counter()
    detector._preprocess_code(detector.ref_files)  # fingerprint the outputs: the "index"
    index_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    detector.run()
    scan_seconds = time.perf_counter() - t0
    sim = detector.similarity_matrix
    rel = {str(corpus.doc_path(d)): d.relpath for d in docs}
    relpaths = [rel[f] for f in detector.test_files]
    return sim[:, :, 1].max(axis=1), sim[:, :, 0].max(axis=1), relpaths, index_seconds, scan_seconds


def run_copydetect(
    corpus: Corpus, sample: int, seed: int, thresholds: tuple[float, ...] = (0.5, 0.8)
) -> list[RunResult]:
    """copydetect with outputs as reference files and documents as test files.

    copydetect compares every test file with every reference file in Python, so it runs on a
    seeded random sample of the documents against all outputs of the same family: code
    documents against code outputs with its token filtering (pygments; names -> V/F/O, strings
    -> S), prose documents against prose outputs with filtering disabled (its lexers drop all
    plain text). Decision rules on the same similarity matrix: 'copydetect' flags a document
    when some output has >= t of its fingerprinted tokens in it (the containment direction
    this task needs); 'copydetect-stock' is copydetect's own report rule (share of the *test
    file* copied > 0.33, its default display threshold).
    """
    from copydetect import defaults

    logging.getLogger().setLevel(logging.ERROR)  # copydetect warns on every plain-text file
    docs = sorted(corpus.docs, key=lambda d: d.relpath)
    docs = random.Random(f"copydetect-{seed}").sample(docs, k=min(sample, len(docs)))
    out_files = corpus.output_files()
    ref_side, test_side, relpaths = [], [], []
    index_seconds = scan_seconds = 0.0
    for prose in (False, True):
        group = [d for d in docs if (d.kind == "prose") == prose]
        refs = [
            p
            for o, p in zip(corpus.outputs, out_files, strict=True)
            if (o.kind == "prose") == prose
        ]
        if not group:
            continue
        ref_max, test_max, rels, index_s, scan_s = _copydetect_group(corpus, group, refs, prose)
        ref_side.append(ref_max)
        test_side.append(test_max)
        relpaths += rels
        index_seconds += index_s
        scan_seconds += scan_s
    ref_all, test_all = np.concatenate(ref_side), np.concatenate(test_side)
    stock_t = defaults.DISPLAY_THRESHOLD
    rules = [
        (f"copydetect@{t}", ref_all >= t, f"output-side similarity >= {t}") for t in thresholds
    ]
    rules.append(("copydetect-stock", test_all > stock_t, f"test-side similarity > {stock_t}"))
    note = (
        f"random sample of {len(docs)} of {len(corpus.docs)} documents, each against all "
        f"outputs of its family (code or prose); copydetect compares every pair in Python"
    )
    results = []
    for name, mask, rule in rules:
        results.append(
            RunResult(
                name=name,
                flagged={r for r, m in zip(relpaths, mask, strict=True) if m},
                evaluated={d.relpath for d in docs},
                index_seconds=index_seconds,
                scan_seconds=scan_seconds,
                scan_bytes=sum(d.size for d in docs),
                params={
                    "noise_t": defaults.NOISE_THRESHOLD,
                    "guarantee_t": defaults.GUARANTEE_THRESHOLD,
                    "rule": rule,
                    "filtering": "code: on, prose: off",
                },
                notes=[note],
            )
        )
    return results
