"""Scale and throughput: 10^6 outputs in the ledger, index build time, scan speed and memory.

    .venv/bin/python benchmarks/scale.py [--outputs 1000000] [--scan-mb 200] [--seed 1]
        [--reuse [--rebuild-index]] [--repeats N]

Outputs are synthetic, made by mutating real code (functions of the stdlib and installed
packages): three random functions joined, ~10% of their lines dropped, every integer literal
redrawn and a few random assignments inserted, so no two outputs share their fingerprints.
Then, each step as the user runs it (the CLI, in its own process, timed with /usr/bin/time):

1. ``distillguard record --jsonl`` of all outputs into a fresh SQLite ledger;
2. ``distillguard index build`` (all cores; target: under 10 minutes on 2 cores);
3. ``distillguard scan`` of a JSONL corpus (real source files, some carrying an output,
   verbatim or edited) on 1 worker and on all cores: throughput end to end (reading, matching,
   writing clean/quarantine) and peak RSS, memory-mapped index pages included (target: < 2 GB).
4. the same corpus as a directory of files, to show the per-file cost of this disk;
5. the same corpus as chat/SFT records (each text the assistant turn of a three-message
   ``messages`` list, no ``text`` field), on 1 worker, ``--repeats`` times: what reading chats
   costs against plain JSONL of the same texts (target: within 20%), and the same findings.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402  (benchmarks/report.py: the machine description quality.py uses)

ROOT = HERE.parent
BIN = Path(sys.executable).parent
INT = re.compile(r"\b\d+\b")


def host_files() -> list[Path]:
    """Scan hosts that no output was made from: the npm packages quality.py installs."""
    root = HERE / ".work" / "npm" / "node_modules"
    if not root.is_dir():
        sys.exit(f"{root} is missing: run benchmarks/quality.py once first (it installs them)")
    return sorted(p for p in root.rglob("*") if p.suffix in (".js", ".md", ".ts") and p.is_file())


def source_files() -> list[Path]:
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    files = sorted(p for r in roots for p in r.rglob("*.py") if "distillguard" not in str(p))
    return files


def functions(files: list[Path], limit: int) -> list[str]:
    found: list[str] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        lines = text.splitlines(keepends=True)
        for node in ast.walk(tree):
            is_func = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_func and node.end_lineno and 6 <= node.end_lineno - node.lineno <= 60:
                found.append("".join(lines[node.lineno - 1 : node.end_lineno]))
        if len(found) >= limit:
            break
    return found


def synthesize(funcs: list[str], rng: random.Random) -> str:
    parts = []
    for func in rng.sample(funcs, 3):
        lines = [ln for ln in func.splitlines() if rng.random() > 0.1]
        for _ in range(2):
            at = rng.randrange(1, max(2, len(lines)))
            indent = re.match(r"\s*", lines[min(at, len(lines) - 1)]).group()  # type: ignore[union-attr]
            lines.insert(at, f"{indent}v{rng.randrange(10**6)} = {rng.randrange(10**9)}")
        body = "\n".join(lines)
        parts.append(INT.sub(lambda _m: str(rng.randrange(10**6)), body))
    return "\n\n\n".join(parts) + "\n"


def write_outputs(path: Path, n: int, funcs: list[str], seed: int) -> None:
    rng = random.Random(seed)
    vendors = [("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-5-codex")]
    with path.open("w") as fh:
        for i in range(n):
            vendor, model = vendors[i % 2]
            rec = {"text": synthesize(funcs, rng), "vendor": vendor, "model": model}
            fh.write(json.dumps(rec) + "\n")


def sample_outputs(path: Path, k: int, seed: int) -> list[str]:
    rng = random.Random(seed + 1)
    wanted = set(rng.sample(range(count_lines(path)), k))
    out = []
    with path.open() as fh:
        for i, line in enumerate(fh):
            if i in wanted:
                out.append(json.loads(line)["text"])
    return out


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def edit(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    start = rng.randrange(0, max(1, len(lines) // 3))
    kept = lines[start : start + max(8, int(len(lines) * 0.6))]
    return "\n".join("    " + ln.replace("'", '"') for ln in kept) + "\n"


def write_corpus(
    path: Path, files: list[Path], outputs: list[str], mb: int, seed: int
) -> dict[str, str]:
    """A JSONL corpus of ~mb MB: real files no output was made from (npm packages), every
    10th carrying an output (every 20th verbatim, the others a re-indented 60%)."""
    rng = random.Random(seed + 2)
    truth: dict[str, str] = {}
    size = 0
    n = 0
    with path.open("w") as fh:
        while size < mb * 1_000_000:  # hosts repeat (in a new order) until the size is reached
            for src in rng.sample(files, len(files)):
                try:
                    text = src.read_text(encoding="utf-8")
                except (UnicodeDecodeError, OSError):
                    continue
                if n % 10 == 0 and outputs:
                    out = outputs.pop()
                    text = text + "\n\n" + (out if n % 20 == 0 else edit(out, rng))
                    truth[f"doc-{n}"] = "positive"
                fh.write(json.dumps({"id": f"doc-{n}", "text": text}) + "\n")
                size += len(text)
                n += 1
                if size >= mb * 1_000_000:
                    break
    return truth


def timed(cmd: list[str], env: dict[str, str]) -> dict[str, float | str]:
    """Run a CLI step; wall seconds, process (user + system) seconds and peak RSS (MB) from
    /usr/bin/time."""
    full = ["/usr/bin/time", "-f", "@@ %e %M %U %S", *cmd]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(full, env=env, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        sys.exit(f"failed ({proc.returncode}): {proc.stderr[-2000:]}")
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("@@ ")][-1]
    wall, rss_kb, user, system = line.split()[1:]
    print(proc.stdout[-600:], flush=True)
    return {
        "seconds": float(wall),
        "cpu_seconds": round(float(user) + float(system), 2),
        "peak_rss_mb": round(int(rss_kb) / 1024, 1),
    }


def scan_step(corpus: Path, out: Path, workers: int, env: dict[str, str], id_field: bool) -> dict:
    cmd = [
        str(BIN / "distillguard"),
        "scan",
        str(corpus),
        "--out",
        str(out),
        "--workers",
        str(workers),
    ]
    if id_field:
        cmd += ["--id-field", "id"]
    # The previous run's output removed and every write flushed first: a scan into a used
    # --out deletes the old split (31,000 files for the directory corpus) inside its own time,
    # and dirty pages of the last step would be written back during the scan.
    shutil.rmtree(out, ignore_errors=True)
    os.sync()
    result = timed(cmd, env)
    report = json.loads((out / "report.json").read_text())
    result.update(
        workers=workers,
        documents=report["documents"],
        flagged=report["flagged"],
        mb=round(report["bytes"] / 1e6, 1),
        mb_per_s=round(report["bytes"] / 1e6 / report["seconds"], 1),
        report_seconds=report["seconds"],
    )
    return result


def median_scan(runs: list[dict]) -> dict:
    """The run of median throughput, with every run's figure (the machine is shared)."""
    ranked = sorted(runs, key=lambda r: r["mb_per_s"])
    return {**ranked[len(ranked) // 2], "runs_mb_per_s": [r["mb_per_s"] for r in runs]}


def explode(corpus: Path, target: Path) -> None:
    """The JSONL corpus as a directory of files (one per record)."""
    shutil.rmtree(target, ignore_errors=True)
    with corpus.open() as fh:
        for line in fh:
            rec = json.loads(line)
            name = target / rec["id"][-2:] / f"{rec['id']}.py"
            name.parent.mkdir(parents=True, exist_ok=True)
            name.write_text(rec["text"], encoding="utf-8")


CHAT_PROMPT = [
    {"role": "system", "content": "You are a coding assistant."},
    {"role": "user", "content": "Show me the whole file, please."},
]


def chatify(corpus: Path, target: Path) -> None:
    """The JSONL corpus as chat records: the same ids and texts, each in an assistant turn."""
    with corpus.open() as src, target.open("w") as dst:
        for line in src:
            rec = json.loads(line)
            turns = [*CHAT_PROMPT, {"role": "assistant", "content": rec["text"]}]
            dst.write(json.dumps({"id": rec["id"], "messages": turns}) + "\n")


def chat_step(corpus: Path, work: Path, env: dict, repeats: int, plain: dict) -> dict:
    """Scan the chat form of the corpus on one worker; compare with the plain JSONL scan."""
    chats = corpus.parent / "chat.jsonl"
    chatify(corpus, chats)
    out = work / "scan-chat"
    step = median_scan([scan_step(chats, out, 1, env, True) for _ in range(repeats)])
    found = {f["doc"] for f in json.loads((out / "report.json").read_text())["findings"]}
    plain_found = {
        f["doc"] for f in json.loads((work / "scan-1" / "report.json").read_text())["findings"]
    }
    same_texts_s = plain["report_seconds"]
    step.update(
        same_findings_as_plain=found == plain_found,
        plain_report_seconds=same_texts_s,
        seconds_vs_plain=round(step["report_seconds"] / same_texts_s, 3),
    )
    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--outputs", type=int, default=1_000_000)
    p.add_argument("--scan-mb", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work", type=Path, default=HERE / ".work" / "scale")
    p.add_argument("--out", type=Path, default=HERE / "results" / "scale.json")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="keep the ledger and index of the last run (and its record/build figures)",
    )
    p.add_argument(
        "--repeats", type=int, default=1, help="scans of the JSONL corpus per worker count"
    )
    p.add_argument(
        "--rebuild-index",
        action="store_true",
        help="with --reuse: keep the ledger, rebuild the index and time that (a new index format)",
    )
    args = p.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DISTILLGUARD_HOME": str(work / "home")}
    env.pop("DISTILLGUARD_DB", None)
    files = source_files()
    outputs_path = work / f"outputs-{args.outputs}-{args.seed}.jsonl"
    if not outputs_path.exists():
        t0 = time.time()
        write_outputs(outputs_path, args.outputs, functions(files, 200_000), args.seed)
        print(f"synthesized {args.outputs} outputs in {time.time() - t0:.0f}s")
    results: dict = {
        "command": " ".join(["python", "benchmarks/scale.py", *sys.argv[1:]]),
        "machine": report.machine(),
        "outputs": args.outputs,
        "outputs_mb": round(outputs_path.stat().st_size / 1e6, 1),
    }
    dg = str(BIN / "distillguard")
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    keep = args.reuse and (work / "home").is_dir()
    if keep and not args.rebuild_index and isinstance(previous.get("index_build"), dict):
        results.update({k: previous[k] for k in ("record", "index_build", "index_mb")})
    elif keep:
        results["record"] = previous.get(
            "record", "skipped (--reuse: the ledger of the previous run)"
        )
        results["index_build"] = timed([dg, "index", "build", "--rebuild"], env)
    else:
        shutil.rmtree(work / "home", ignore_errors=True)
        results["record"] = timed([dg, "record", "--jsonl", str(outputs_path)], env)
        results["index_build"] = timed([dg, "index", "build"], env)
    results["index_mb"] = round(dir_size(work / "home" / "index") / 1e6, 1)
    corpus_dir = work / "corpus"
    corpus_dir.mkdir(exist_ok=True)
    corpus = corpus_dir / "corpus.jsonl"
    planted = sample_outputs(outputs_path, 2000, args.seed)
    truth = write_corpus(corpus, host_files(), planted, args.scan_mb, args.seed)
    results["scan"] = []
    for workers in (1, os.cpu_count() or 1):
        out = work / f"scan-{workers}"
        runs = [scan_step(corpus, out, workers, env, True) for _ in range(args.repeats)]
        step = median_scan(runs)
        found = {f["doc"] for f in json.loads((out / "report.json").read_text())["findings"]}
        step["planted"] = len(truth)
        step["planted_found"] = len(found & set(truth))
        step["other_flagged"] = len(found - set(truth))
        results["scan"].append(step)
    results["scan_chat"] = chat_step(corpus, work, env, args.repeats, results["scan"][0])
    explode(corpus, work / "files")
    results["scan_files"] = scan_step(work / "files", work / "scan-files", 1, env, id_field=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


if __name__ == "__main__":
    main()
