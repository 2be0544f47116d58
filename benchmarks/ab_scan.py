"""A/B: one-worker scan throughput of this tree against another commit, on the same machine.

    .venv/bin/python benchmarks/ab_scan.py --base f562477 [--repeats 5] [--corpus FILE]

Absolute MB/s differ from machine to machine (the scale benchmark's 54.9 MB/s was measured on
another one), so a change is judged against its base on the same machine, in one run: the base
commit is checked out in a temporary git worktree and both trees scan the scale benchmark's
JSONL corpus (``benchmarks/scale.py`` run once first, for its index and corpus) with the same
virtualenv, alternating, ``--repeats`` times each; the medians are compared. Each tree is run
once first to warm numba's cache (its kernels are cached per source path). When the two trees
fingerprint differently (another fingerprint version), give each its own ``DISTILLGUARD_HOME``
(``--home-base``, ``--home-this``: copies of the ledger, each with the index of its settings),
or each scan would rebuild the other's index.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "scale"
RUN = "import sys; from distillguard.cli import main; sys.argv[0] = 'distillguard'; main()"


def scan(src: Path, home: Path, corpus: Path, out: Path) -> float:
    """MB/s of one one-worker scan (the report's bytes over its seconds)."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(src), "DISTILLGUARD_HOME": str(home)}
    env.pop("DISTILLGUARD_DB", None)
    cmd = [sys.executable, "-c", RUN, "scan", str(corpus), "--out", str(out), "--workers", "1"]
    subprocess.run([*cmd, "--id-field", "id"], env=env, check=True, capture_output=True)
    report = json.loads((out / "report.json").read_text())
    return float(report["bytes"] / 1e6 / report["seconds"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--base", required=True, help="the commit to compare against")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--corpus", type=Path, default=WORK / "corpus" / "corpus.jsonl")
    p.add_argument("--out", type=Path, default=HERE / "results" / "ab_scan.json")
    p.add_argument("--home-base", type=Path, default=WORK / "home")
    p.add_argument("--home-this", type=Path, default=WORK / "home")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", str(base), args.base])
        try:
            trees = {"base": (base / "src", args.home_base), "this": (ROOT / "src", args.home_this)}
            runs: dict[str, list[float]] = {name: [] for name in trees}
            for name, (src, home) in trees.items():
                scan(src, home, args.corpus, Path(tmp) / f"out-{name}")  # warm numba's cache
            for _ in range(args.repeats):
                for name, (src, home) in trees.items():
                    runs[name].append(round(scan(src, home, args.corpus, Path(tmp) / "out"), 1))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)])
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    result = {
        "command": " ".join(["python", "benchmarks/ab_scan.py", *sys.argv[1:]]),
        "base": args.base,
        "this": f"{head} + working tree",
        "corpus_mb": round(args.corpus.stat().st_size / 1e6, 1),
        "runs_mb_per_s": runs,
        "median_mb_per_s": {k: statistics.median(v) for k, v in runs.items()},
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
