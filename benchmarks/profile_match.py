"""Process time per stage of matching, on 4 MB batches of the scale corpus (for A/B work).

    .venv/bin/python benchmarks/profile_match.py [--batches 12] [--repeats 3]

Needs ``benchmarks/scale.py`` run once (its index and corpus under ``benchmarks/.work/scale``).
Prints, per stage, the minimum over repeats of the process seconds summed over the batches, and
the matches found (a checksum, so an A/B shows the results did not change).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import orjson

from distillguard.fingerprint import EncodedBatch
from distillguard.index.probe import probe
from distillguard.index.store import Index
from distillguard.scan import kernels
from distillguard.scan.matcher import Matcher

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "scale"
BATCH = 4 << 20


def batches(corpus: Path, count: int) -> list[list[str]]:
    out: list[list[str]] = []
    batch: list[str] = []
    size = 0
    with corpus.open("rb") as fh:
        for line in fh:
            text = orjson.loads(line)["text"]
            batch.append(text)
            size += len(text)
            if size >= BATCH:
                out.append(batch)
                batch, size = [], 0
                if len(out) >= count:
                    break
    return out


def stages(m: Matcher, texts: list[str], times: dict[str, float]) -> None:
    clock = time.process_time
    t = clock()
    batch = EncodedBatch(texts)
    times["encode"] += clock() - t
    t = clock()
    count = m.fp._code(batch, m.fp._scratch.results(2 * (batch.buf.shape[0] + 1)))
    times["code kernel"] += clock() - t
    t = clock()
    out = m.fp._scratch.results(0)
    m.fp._text(batch, tuple(a[count:] for a in out))
    times["text kernel"] += clock() - t
    q_hash, q_doc, _, _ = m.fp.both(batch, prose=m._prose)
    t = clock()
    hit_q, hit_out = probe(m.index, q_hash)
    times["probe"] += clock() - t
    least = min(m.params.min_fingerprints, m.params.large_fingerprints)
    t = clock()
    kernels.tally(hit_q, hit_out, q_doc, q_hash, m._allowed, least)
    times["tally"] += clock() - t
    times["queries"] += q_hash.shape[0]
    times["hits"] += hit_q.shape[0]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batches", type=int, default=12)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    index = Index.open(WORK / "home" / "index")
    m = Matcher(index, lambda v: True)
    data = batches(WORK / "corpus" / "corpus.jsonl", args.batches)
    m.match(data[0])  # compile / load the kernels, touch the index
    best: dict[str, float] = {}
    digest = ""
    for _ in range(args.repeats):
        times: dict[str, float] = defaultdict(float)
        found = hashlib.sha256()
        for texts in data:
            stages(m, texts, times)
            t = time.process_time()
            result = m.match(texts)
            times["match (all)"] += time.process_time() - t
            found.update(repr(result).encode())
        digest = found.hexdigest()[:16]
        for k, v in times.items():
            best[k] = min(best.get(k, np.inf), v)
    mb = sum(len(t) for b in data for t in b) / 1e6
    staged = ("encode", "code kernel", "text kernel", "probe", "tally")
    best["rest of match"] = best["match (all)"] - sum(best[k] for k in staged)
    print(f"{len(data)} batches, {mb:.1f} MB (chars); results {digest}")
    for k, v in best.items():
        if k in ("queries", "hits"):
            print(f"  {k:12s} {v / len(data):12.0f} per batch")
        else:
            print(f"  {k:12s} {v:7.3f} s  {mb / v if v else 0:8.1f} MB/s")


if __name__ == "__main__":
    main()
