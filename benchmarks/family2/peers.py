"""The peers of ``quality.py`` on family 2: same documents, same answers, same truth, same score.

Each peer indexes the answers' texts as recorded (``answers.jsonl``'s ``text``: what the model
wrote, never the request; a peer has no notion of a request, so the user's code an answer quotes
back stays in its text) and reads each document's text: a ``chat.jsonl`` record's strings joined
as distillguard reads them (``record_parts`` + ``join``), a ``code.parquet`` row's ``code``, a
repository file's text. Each peer names the answers it pairs a document with, so it is scored by
``score.score`` exactly as distillguard is: a positive is found only when a named answer is one
it holds.

- **minhash-lsh**: datasketch MinHashLSH over ``peers.py``'s shingles (5 lower-cased tokens,
  128 permutations), Jaccard threshold as quality.py (0.5); the answers are indexed, each
  document is a query; a document is paired with every candidate answer.
- **lsh-ensemble**: MinHashLSHEnsemble, containment threshold as quality.py (0.5), 16 parts;
  the documents are indexed, each answer is a query; a returned document is paired with it.
- Both skip answers with fewer than 10 distinct shingles, as in quality.py.
- **copydetect**: its fingerprints (its ``filter_code`` and ``hashed_kgrams``; noise and
  guarantee thresholds 25/25, so its winnowing window is 1 and every 25-gram is kept), answers
  as reference files, documents as test files. Family-2 texts mix prose and code (markdown
  answers with fenced blocks in six languages), so where quality.py splits code from prose by
  family, here every text is fingerprinted both ways, with copydetect's token filtering
  (pygments; names -> V/F/O, strings -> S; chat records and markdown answers through its
  markdown lexer, which lexes fenced blocks in their language; prose-only texts have no
  filtered form) and without it, and a pair's similarity is the higher of the two.
  copydetect compares every (test, reference) pair in Python (``compare_files``, ~1 ms a pair:
  3 million pairs here); the same similarities are computed here with numpy from the k-grams
  each document shares with each answer (the answer side exactly for every pair; the document
  side exactly wherever it can pass 0.33), and seeded pairs are checked against
  ``compare_files`` on every run. So copydetect runs on every document, not on a sample.
  Rules as quality.py: ``copydetect@t``: some answer has >= t of its fingerprinted tokens in
  the document (the answer side); ``copydetect-stock``: copydetect's own report rule, the
  share of the *document* copied > 0.33.
"""

from __future__ import annotations

import io
import json
import logging
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from . import score

COPYDETECT_THRESHOLDS = (0.5, 0.8)
K = 25  # copydetect's noise and guarantee thresholds (defaults), so its window is 1
# family-2 language names -> pygments lexer names (copydetect's filtering)
LEXER = {
    "python": "python",
    "javascript": "javascript",
    "sql": "sql",
    "bash": "bash",
    "perl": "perl",
    "yaml": "yaml",
    "markdown": "markdown",
    "dockerfile": "docker",
}
EXTENSION = {
    ".py": "python",
    ".js": "javascript",
    ".sql": "sql",
    ".sh": "bash",
    ".pl": "perl",
    ".pm": "perl",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".md": "markdown",
    ".txt": "prose",
    ".rst": "prose",
}


@dataclass
class Text:
    key: str  # document name, or answer source_id
    text: str
    lexer: str | None  # pygments lexer for copydetect's filtering; None: no filtered form


@dataclass
class PeerRun:
    name: str
    pairs: dict[str, set[str]] = field(default_factory=dict)  # doc name -> answer source_ids
    seconds: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------- inputs


def _chat_reader() -> Callable[[dict], str]:
    """A chat record's text as distillguard's scanner reads it (its own functions)."""
    try:
        from distillguard.scan.formats.records import join, record_parts
    except ImportError:  # another source tree without them: the message contents, joined
        return lambda rec: "\n\n".join(str(m.get("content", "")) for m in rec.get("messages", []))

    def read(rec: dict) -> str:
        parts = record_parts(rec, None)
        return "" if isinstance(parts, str) else join(parts)[0]

    return read


def documents(manifest: dict) -> list[Text]:
    """Every document of the manifest, in its order, with its text read back from disk."""
    paths = manifest["paths"]
    texts: dict[str, Text] = {}
    read_chat = _chat_reader()
    with open(paths["chat"], encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            name = f"{paths['chat']}:{i + 1}"
            texts[name] = Text(name, read_chat(json.loads(line)), "markdown")
    table = pq.read_table(paths["parquet"], columns=["id", "code", "language"]).to_pydict()
    for rid, code, lang in zip(table["id"], table["code"], table["language"], strict=True):
        texts[rid] = Text(rid, code, LEXER.get(lang))
    out = []
    for d in manifest["docs"]:
        if d["shape"] == "repo":
            text = Path(d["name"]).read_text(encoding="utf-8")
            out.append(Text(d["name"], text, _lexer_for_file(d["name"], d["lang"])))
        else:
            out.append(texts[d["name"]])
    return out


def answers(answers_jsonl: Path, manifest: dict) -> list[Text]:
    """The answers' texts as recorded (the request is not part of them)."""
    meta = {a["source_id"]: a for a in manifest["answers"]}
    out = []
    for line in answers_jsonl.open(encoding="utf-8"):
        rec = json.loads(line)
        a = meta[rec["source_id"]]
        if a["kind"] == "file":
            lexer = LEXER.get(a["lang"])
        elif a["kind"] == "commit":
            lexer = None  # prose only
        else:
            lexer = "markdown"
        out.append(Text(rec["source_id"], rec["text"], lexer))
    return out


def _lexer_for_file(name: str, lang: str) -> str | None:
    """By the file's extension (pygments' own guess takes .pm for Promela, .pl for Prolog),
    else by the document's language."""
    suffix = Path(name).suffix.lower()
    if Path(name).name.startswith("Dockerfile"):
        return "docker"
    return LEXER.get(EXTENSION.get(suffix, lang))


# ------------------------------------------------------------------------------- datasketch


def _sketches(texts: list[Text], hasher, min_shingles: int = 0):
    from peers import shingles

    out, skipped = [], 0
    for t in texts:
        sh = shingles(t.text)
        if len(sh) < max(min_shingles, 1):
            skipped += 1
            continue
        out.append((t.key, hasher(sh), len(sh)))
    return out, skipped


def run_minhash_lsh(docs: list[Text], outs: list[Text], threshold: float) -> PeerRun:
    from datasketch import MinHashLSH

    import peers

    run = PeerRun("minhash-lsh")
    hasher = peers.Hasher()
    t0 = time.perf_counter()
    sketches, skipped = _sketches(outs, hasher, peers.MIN_SHINGLES)
    lsh = MinHashLSH(threshold=threshold, num_perm=peers.NUM_PERM)
    for key, mh, _ in sketches:
        lsh.insert(key, mh)
    run.seconds["index"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for key, mh, _ in _sketches(docs, hasher)[0]:
        found = lsh.query(mh)
        if found:
            run.pairs[key] = set(found)
    run.seconds["scan"] = time.perf_counter() - t0
    run.params = peers._params(threshold=threshold, min_shingles=peers.MIN_SHINGLES)
    run.notes.append(f"{skipped} answers under {peers.MIN_SHINGLES} shingles not indexed")
    return run


def run_lsh_ensemble(
    docs: list[Text], outs: list[Text], threshold: float, num_part: int = 16
) -> PeerRun:
    from datasketch import MinHashLSHEnsemble

    import peers

    run = PeerRun("lsh-ensemble")
    hasher = peers.Hasher()
    t0 = time.perf_counter()
    sketches, skipped = _sketches(outs, hasher, peers.MIN_SHINGLES)
    run.seconds["index"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    entries = _sketches(docs, hasher)[0]
    ensemble = MinHashLSHEnsemble(threshold=threshold, num_perm=peers.NUM_PERM, num_part=num_part)
    ensemble.index(entries)
    for key, mh, size in sketches:
        for doc in ensemble.query(mh, size):
            run.pairs.setdefault(doc, set()).add(key)
    run.seconds["scan"] = time.perf_counter() - t0
    run.params = peers._params(
        threshold=threshold, num_part=num_part, min_shingles=peers.MIN_SHINGLES
    )
    run.notes.append(
        "scan time covers sketching and indexing the documents, then querying every answer; "
        "index time is sketching the answers"
    )
    run.notes.append(f"{skipped} answers under {peers.MIN_SHINGLES} shingles not queried")
    return run


# ------------------------------------------------------------------------------- copydetect


def _kgrams(t: Text, filtered: bool) -> tuple[np.ndarray, int] | None:
    """copydetect's fingerprints of a text: its filtering (or none) and its k-gram hashes. With
    noise = guarantee threshold its winnowing window is 1, so every k-gram is kept; its token
    coverage is then the filtered text's length. None: no k-gram at all."""
    from copydetect.utils import filter_code, hashed_kgrams

    if filtered:
        if t.lexer is None:
            return None
        code = filter_code(t.text, t.key, t.lexer)[0]
    else:
        code = t.text
    if len(code) < K:
        return None
    return hashed_kgrams(code, K).astype(np.int64), len(code)


def _concat_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The indices of every [start, end) range, one after another."""
    lengths = ends - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def _covered(owner: np.ndarray, pos: np.ndarray, n: int) -> np.ndarray:
    """Per owner, the characters covered by k-grams at ``pos`` (copydetect's token overlap:
    the union of [p, p + K), as get_copied_slices sums it)."""
    if not len(pos):
        return np.zeros(n)
    key = np.sort(owner.astype(np.int64) * (1 << 32) + pos)
    own, p = key >> 32, key & ((1 << 32) - 1)
    step = np.full(len(key), K, dtype=np.int64)
    same = own[1:] == own[:-1]
    step[:-1][same] = np.minimum(p[1:] - p[:-1], K)[same]
    return np.bincount(own, weights=step, minlength=n)


class _RefIndex:
    """Every k-gram position of every answer, grouped by hash (the answers are copydetect's
    reference files)."""

    def __init__(self, fps: list[tuple[np.ndarray, int] | None]) -> None:
        hs, rs, ps = [], [], []
        self.coverage = np.zeros(len(fps))
        for r, fp in enumerate(fps):
            if fp is None:
                continue
            hs.append(fp[0])
            rs.append(np.full(len(fp[0]), r, dtype=np.int64))
            ps.append(np.arange(len(fp[0]), dtype=np.int64))
            self.coverage[r] = fp[1]
        h, r, p = np.concatenate(hs), np.concatenate(rs), np.concatenate(ps)
        order = np.lexsort((p, r, h))
        self.h, self.r, self.p = h[order], r[order], p[order]
        self.keys, self.start = np.unique(self.h, return_index=True)
        self.end = np.append(self.start[1:], len(self.h))
        # the distinct (hash, answer) pairs, grouped by hash
        first = np.ones(len(self.h), dtype=bool)
        first[1:] = (self.h[1:] != self.h[:-1]) | (self.r[1:] != self.r[:-1])
        self.pair_h, self.pair_r = self.h[first], self.r[first]
        self.pair_start = np.searchsorted(self.pair_h, self.keys)
        self.pair_end = np.append(self.pair_start[1:], len(self.pair_h))
        self.n = len(fps)

    def similarities(
        self, fp: tuple[np.ndarray, int], min_ref: float, min_doc: float
    ) -> dict[int, tuple[float, float]]:
        """{answer: (document-side, answer-side similarity)} for the answers that reach
        ``min_ref`` on the answer side or could exceed ``min_doc`` on the document side; the
        document side is exact where it can exceed ``min_doc`` and 0 where it cannot."""
        hashes, coverage = fp
        uniq, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
        at = np.minimum(np.searchsorted(self.keys, uniq), len(self.keys) - 1)
        hit = self.keys[at] == uniq
        if not hit.any():
            return {}
        rows = at[hit]  # matched hashes, as rows of self.keys
        # answer side: every position of every answer whose k-gram the document holds
        occ = _concat_ranges(self.start[rows], self.end[rows])
        ref_over = _covered(self.r[occ], self.p[occ], self.n)
        # document side: bound first (each shared document position covers at most K)
        pairs = _concat_ranges(self.pair_start[rows], self.pair_end[rows])
        pair_u = np.repeat(np.nonzero(hit)[0], self.pair_end[rows] - self.pair_start[rows])
        pair_r = self.pair_r[pairs]
        doc_bound = np.bincount(pair_r, weights=counts[pair_u], minlength=self.n) * K
        cand = doc_bound > min_doc * coverage
        doc_over = np.zeros(self.n)
        if cand.any():
            keep = cand[pair_r]
            pair_u, pair_r = pair_u[keep], pair_r[keep]
            by_u = np.argsort(inverse, kind="stable")
            u_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
            idx = _concat_ranges(u_start[pair_u], u_start[pair_u] + counts[pair_u])
            owner = np.repeat(pair_r, counts[pair_u])
            doc_over = _covered(owner, by_u[idx], self.n)
        with np.errstate(divide="ignore", invalid="ignore"):
            ref_sim = np.where(self.coverage > 0, ref_over / self.coverage, 0.0)
        doc_sim = doc_over / coverage
        keep = np.nonzero((ref_sim >= min_ref) | cand)[0]
        return {int(r): (float(doc_sim[r]), float(ref_sim[r])) for r in keep}


def _copydetect_mode(
    docs: list[Text], outs: list[Text], filtered: bool, min_ref: float, min_doc: float
) -> tuple[dict[tuple[str, str], tuple[float, float]], dict[str, Any]]:
    """{(doc, answer): (document-side, answer-side similarity)} where a rule could fire."""
    t0 = time.perf_counter()
    index = _RefIndex([_kgrams(t, filtered) for t in outs])
    index_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sims: dict[tuple[str, str], tuple[float, float]] = {}
    fps: dict[str, tuple[np.ndarray, int]] = {}
    for d in docs:
        fp = _kgrams(d, filtered)
        if fp is None:
            continue
        fps[d.key] = fp
        for r, sim in index.similarities(fp, min_ref, min_doc).items():
            sims[(d.key, outs[r].key)] = sim
    seconds = time.perf_counter() - t0
    checked = _check(docs, outs, filtered, sims, min_ref, min_doc)
    return sims, {"index": index_s, "scan": seconds, "checked": checked}


def _check(
    docs: list[Text],
    outs: list[Text],
    filtered: bool,
    sims: dict,
    min_ref: float,
    min_doc: float,
    n: int = 150,
) -> int:
    """Compare seeded pairs with copydetect's own compare_files: half among the pairs kept,
    half at random; raise on any difference. The number of pairs checked."""
    from copydetect.detector import CodeFingerprint, compare_files

    rng = random.Random(f"copydetect-check-{filtered}")
    kept = sorted(sims)
    picks = rng.sample(kept, min(n // 2, len(kept)))
    by_key = {t.key: t for t in [*docs, *outs]}
    for _ in range(n - len(picks)):
        picks.append((rng.choice(docs).key, rng.choice(outs).key))
    window = 1
    for doc, out in picks:
        fps = []
        for t in (by_key[doc], by_key[out]):
            if filtered and t.lexer is None:
                break
            fps.append(
                CodeFingerprint(
                    t.key, K, window, filter=filtered, language=t.lexer, fp=io.StringIO(t.text)
                )
            )
        if len(fps) < 2 or not fps[0].token_coverage or not fps[1].token_coverage:
            got = (0.0, 0.0)
        else:
            got = tuple(float(x) for x in compare_files(fps[0], fps[1])[1])
        if (doc, out) in sims:  # the answer side exact; the document side exact or <= min
            mine = sims[(doc, out)]
            ok = abs(got[1] - mine[1]) < 1e-9 and (
                abs(got[0] - mine[0]) < 1e-9 or (mine[0] == 0.0 and got[0] <= min_doc)
            )
        else:  # left out: no rule can fire
            mine = None
            ok = got[1] < min_ref and got[0] <= min_doc
        if not ok:
            raise AssertionError(f"copydetect check: {doc} x {out}: {got} != {mine}")
    return len(picks)


def run_copydetect(
    docs: list[Text], outs: list[Text], thresholds: tuple[float, ...] = COPYDETECT_THRESHOLDS
) -> list[PeerRun]:
    from copydetect import defaults

    logging.getLogger().setLevel(logging.ERROR)  # copydetect warns on texts it cannot lex
    stock = defaults.DISPLAY_THRESHOLD
    best: dict[tuple[str, str], list[float]] = {}
    seconds: dict[str, float] = {"index": 0.0, "scan": 0.0}
    checked = 0
    for filtered in (True, False):
        sims, s = _copydetect_mode(docs, outs, filtered, min(thresholds), stock)
        seconds["index"] += s["index"]
        seconds["scan"] += s["scan"]
        checked += s["checked"]
        for pair, (sim_doc, sim_ref) in sims.items():
            b = best.setdefault(pair, [0.0, 0.0])
            b[0], b[1] = max(b[0], sim_doc), max(b[1], sim_ref)
    rules = [(f"copydetect@{t}", 1, t, f"answer-side similarity >= {t}") for t in thresholds]
    rules.append(("copydetect-stock", 0, stock, f"document-side similarity > {stock}"))
    note = (
        "every text fingerprinted by copydetect with and without its filtering, a pair's "
        "similarity the higher of the two; its all-pairs comparison done by shared k-gram "
        f"(numpy, same figures: {checked} seeded pairs checked equal with its compare_files); "
        "all documents, no sample"
    )
    runs = []
    for name, side, t, rule in rules:
        run = PeerRun(name, seconds=dict(seconds))
        for (doc, key), sim in best.items():
            if (sim[side] >= t) if side == 1 else (sim[side] > t):
                run.pairs.setdefault(doc, set()).add(key)
        run.params = {
            "noise_t": defaults.NOISE_THRESHOLD,
            "guarantee_t": defaults.GUARANTEE_THRESHOLD,
            "rule": rule,
            "filtering": "both (higher similarity of the two)",
        }
        run.notes.append(note)
        runs.append(run)
    return runs


# ------------------------------------------------------------------------------- run, score


def setup(args) -> dict[str, Any]:
    return {
        "thresholds": (
            "as quality.py, fixed on family 1 and not tuned on family 2: MinHashLSH Jaccard "
            f"{args.lsh_threshold}, MinHashLSHEnsemble containment {args.ensemble_threshold} "
            "(the best F1 of family 1's sweep), copydetect answer-side >= "
            + " and >= ".join(str(t) for t in COPYDETECT_THRESHOLDS)
            + ", copydetect-stock document-side > 0.33 (its display threshold)"
        ),
        "indexed": "each answer's recorded text (answers.jsonl 'text'; no request)",
        "queried": (
            "chat.jsonl: each record's strings joined as distillguard reads them; "
            "code.parquet: the 'code' field; repo/: each file's text"
        ),
        "scoring": "score.py, as distillguard: a positive is found when a named answer is held",
    }


def run_all(args, manifest: dict, answers_jsonl: Path, log=print) -> dict[str, Any]:
    """Every peer on the corpus; {system name: {figures, details, seconds, params, notes}}."""
    here = Path(__file__).resolve().parent.parent
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    t0 = time.perf_counter()
    docs = documents(manifest)
    outs = answers(answers_jsonl, manifest)
    read_s = time.perf_counter() - t0
    log(f"peers: {len(docs)} documents, {len(outs)} answers read in {read_s:.1f}s")
    runs: list[PeerRun] = []
    for name, fn in (
        ("minhash-lsh", lambda: [run_minhash_lsh(docs, outs, args.lsh_threshold)]),
        ("lsh-ensemble", lambda: [run_lsh_ensemble(docs, outs, args.ensemble_threshold)]),
        ("copydetect", lambda: run_copydetect(docs, outs)),
    ):
        t1 = time.perf_counter()
        got = fn()
        wall = time.perf_counter() - t1
        for r in got:
            r.seconds["wall"] = wall
        runs += got
        log(f"peers: {name} done in {wall:.1f}s")
    ids = {t.key: t.key for t in outs}
    out = {}
    for r in runs:
        reports = {
            "peer": {
                "findings": [
                    {"doc": doc, "matches": [{"output_id": k} for k in sorted(keys)]}
                    for doc, keys in r.pairs.items()
                ]
            }
        }
        scored = score.score(manifest["docs"], manifest["answers"], reports, ids)
        out[r.name] = {
            "figures": scored["figures"],
            "details": scored["details"],
            "seconds": {k: round(v, 2) for k, v in r.seconds.items()},
            "params": r.params,
            "notes": r.notes,
        }
    return {"read_seconds": round(read_s, 2), "systems": out}
