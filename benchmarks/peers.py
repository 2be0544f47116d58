"""Peer detectors, given a fair setup on the same corpus: datasketch MinHashLSH and
MinHashLSHEnsemble over token shingles, and copydetect's winnowing."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterable

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


def run_copydetect(
    corpus: Corpus, sample: int, seed: int, display_t: float = 0.5
) -> list[RunResult]:
    """copydetect with outputs as reference files and documents as test files.

    copydetect compares every test file with every reference file in Python, so it runs on a
    seeded random sample of the documents against all outputs. Two decision rules read the
    same similarity matrix: 'copydetect' flags a document when some output has >= display_t
    of its tokens found in it (the containment direction this task needs), 'copydetect-stock'
    uses copydetect's own report rule (share of the *test file* copied > 0.33, its default).
    """
    from copydetect import CopyDetector, defaults

    logging.getLogger().setLevel(logging.ERROR)  # copydetect warns on every plain-text file
    docs = sorted(corpus.docs, key=lambda d: d.relpath)
    docs = random.Random(f"copydetect-{seed}").sample(docs, k=min(sample, len(docs)))
    detector = CopyDetector(extensions=["*"], silent=True, autoopen=False)
    for path in corpus.output_files():
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
    test_rel = {str(corpus.doc_path(d)): d.relpath for d in docs}
    relpaths = [test_rel[f] for f in detector.test_files]
    contained = np.max(sim[:, :, 1], axis=1) >= display_t
    stock = np.max(sim[:, :, 0], axis=1) > defaults.DISPLAY_THRESHOLD
    scan_bytes = sum(d.size for d in docs)
    results = []
    for name, mask, rule in (
        ("copydetect", contained, f"max over outputs of output-side similarity >= {display_t}"),
        ("copydetect-stock", stock, f"test-side similarity > {defaults.DISPLAY_THRESHOLD}"),
    ):
        results.append(
            RunResult(
                name=name,
                flagged={r for r, m in zip(relpaths, mask, strict=True) if m},
                evaluated={d.relpath for d in docs},
                index_seconds=index_seconds,
                scan_seconds=scan_seconds,
                scan_bytes=scan_bytes,
                params={
                    "noise_t": defaults.NOISE_THRESHOLD,
                    "guarantee_t": defaults.GUARANTEE_THRESHOLD,
                    "rule": rule,
                },
                notes=[
                    f"random sample of {len(docs)} of {len(corpus.docs)} documents against all "
                    f"{len(corpus.outputs)} outputs (copydetect compares every pair in Python)"
                ],
            )
        )
    return results
