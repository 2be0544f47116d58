"""Detection-quality benchmark: distillguard side by side with peers, on one corpus, in one run.

    .venv/bin/python benchmarks/quality.py [--seed N] [--out benchmarks/results/quality.json]
        [--systems distillguard,minhash,lshensemble,copydetect]

Builds (or reuses) the corpus under benchmarks/.work, runs each system, prints tables, writes
the JSON results and the markdown tables into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus as corpus_pkg  # noqa: E402
import dg  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
import scoring  # noqa: E402
from systems import Corpus, RunResult, load_corpus  # noqa: E402

SYSTEMS = ("distillguard", "minhash", "lshensemble", "copydetect")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: benchmarks/results/quality.json (seed 1), quality-seedN.json otherwise",
    )
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--work", type=Path, default=HERE / ".work")
    p.add_argument(
        "--copydetect-docs",
        type=int,
        default=500,
        help="random sample of documents copydetect is run on (default 500)",
    )
    p.add_argument("--lsh-threshold", type=float, default=0.5, help="MinHashLSH Jaccard")
    p.add_argument(
        "--ensemble-threshold", type=float, default=0.5, help="MinHashLSHEnsemble containment"
    )
    p.add_argument("--workers", type=int, default=1, help="distillguard scan --workers")
    p.add_argument("--readme", type=Path, default=HERE / "README.md")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the README table")
    p.add_argument(
        "--render-only",
        action="store_true",
        help="only rewrite the README block from the results file --out",
    )
    args = p.parse_args(argv)
    if args.out is None:
        name = "quality.json" if args.seed == 1 else f"quality-seed{args.seed}.json"
        args.out = HERE / "results" / name
    unknown = set(args.systems.split(",")) - set(SYSTEMS)
    if unknown:
        p.error(f"unknown systems: {', '.join(sorted(unknown))}")
    return args


def log(msg: str) -> None:
    print(f"[quality] {msg}", file=sys.stderr, flush=True)


def run_system(name: str, corpus: Corpus, args: argparse.Namespace) -> list[RunResult]:
    t0 = time.perf_counter()
    log(f"running {name}")
    if name == "distillguard":
        results = [dg.run(corpus, workers=args.workers)]
        if results[0].skipped:
            log(f"distillguard skipped: {results[0].skipped}")
    elif name == "minhash":
        results = [peers.run_minhash_lsh(corpus, threshold=args.lsh_threshold)]
    elif name == "lshensemble":
        results = [peers.run_lsh_ensemble(corpus, threshold=args.ensemble_threshold)]
    else:
        results = peers.run_copydetect(corpus, sample=args.copydetect_docs, seed=args.seed)
    log(f"{name} done in {time.perf_counter() - t0:.0f}s")
    return results


def corpus_summary(corpus: Corpus) -> dict:
    m = corpus.manifest
    keep = (
        "seed",
        "generator_version",
        "documents",
        "positives",
        "negatives",
        "bytes",
        "by_category",
        "dropped",
        "shortfall",
        "outputs",
        "outputs_with_license_header",
    )
    summary = {k: m[k] for k in keep if k in m}
    summary["ledger_outputs"] = len(corpus.outputs)
    summary["inserted_outputs"] = sum(o.role == "inserted" for o in corpus.outputs)
    summary["truth_rule"] = m.get("truth_rule")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render_only:
        results = json.loads(args.out.read_text())
        report.print_tables(results["scores"])
        report.update_readme(args.readme, report.markdown(results), args.seed)
        return 0
    root = corpus_pkg.build(args.seed, args.work)
    corpus = load_corpus(root)
    log(f"corpus {root}: {len(corpus.docs)} documents, {len(corpus.outputs)} outputs")
    runs: list[RunResult] = []
    for name in args.systems.split(","):
        runs += run_system(name, corpus, args)
    scores = [scoring.score(corpus, r) for r in runs]
    command = "python benchmarks/quality.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    results = {
        "command": command.strip(),
        "machine": report.machine(),
        "versions": report.versions(HERE.parent),
        "corpus": corpus_summary(corpus),
        "scores": scores,
        "errors": {r.name: scoring.errors(corpus, r) for r in runs if not r.skipped},
        "extra": {r.name: {k: v for k, v in r.extra.items() if k != "output_ids"} for r in runs},
    }
    report.print_tables(scores)
    details = args.work / f"quality-details-seed{args.seed}.json"
    details.write_text(
        json.dumps(
            {
                r.name: {
                    "flagged": sorted(r.flagged),
                    "matches": r.matches,
                    "output_ids": r.extra.get("output_ids"),
                }
                for r in runs
            }
        )
    )
    log(f"flagged documents and matches per system in {details}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"results written to {args.out}")
    if not args.no_readme:
        if report.update_readme(args.readme, report.markdown(results), args.seed):
            log(f"tables written to {args.readme}")
        else:
            log(f"{args.readme} has no block for seed {args.seed}; README left as it is")
    return 0


if __name__ == "__main__":
    sys.exit(main())
