"""Ray engine vs local engine on the same >= 1 GB corpus, in one run.

    .venv/bin/python benchmarks/ray_engine.py [--mb 1100] [--shard-mb 64] [--outputs 20000]
        [--seed 1] [--baseline-src DIR --baseline-shards 4 --repeats 3]

The corpus: JSONL shards of ``--shard-mb`` MB, each record the text of a file of the installed
packages (site-packages: .py, .md, .rst, .txt, .pyi, .js; repeated in new orders until ``--mb``
is reached), every 50th carrying a recorded output (verbatim or a re-indented 60%, as
benchmarks/scale.py plants them). The outputs are synthetic (benchmarks/scale.py: three stdlib
functions joined and mutated), recorded into a fresh SQLite ledger and indexed first.

Then, each scan as the user runs it (the CLI in its own process, /usr/bin/time):

1. ``scan --engine local`` with 1 and 2 workers, ``scan --engine ray`` (a local Ray cluster
   started by the scan, as a first-time user gets) with 1 and 2 workers: throughput from the
   report's bytes and seconds; for Ray also without its start-up (the cluster and actors,
   printed by the scan as ``ray: N workers, started in Xs``); every report compared with the
   local one-worker report (findings, spans, counts: all but time and worker count).
2. a worker killed: Ray, 2 workers, one actor process SIGKILLed once a quarter of the shards
   are complete; Ray restarts it and reruns its shard: time to finish vs the clean run.
3. a driver killed: Ray, 2 workers, the driver's whole process group (its cluster with it)
   SIGKILLed once half of the shards are complete, then ``--resume``: time of the resumed run,
   and of both together, vs the clean run; the resumed report compared too.
4. ``--baseline-src DIR`` (a copy of ``src/`` from before the runner seam): the local engine on
   one worker, ``--repeats`` times alternating old and new code (after one round that warms
   numba's compile cache), on the first ``--baseline-shards`` shards: the one-worker path keeps
   its speed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402  (the machine description)
import scale  # noqa: E402  (synthetic outputs, planting, timing)

BIN = Path(sys.executable).parent
HOST_SUFFIXES = (".py", ".md", ".rst", ".txt", ".pyi", ".js")
STARTED = re.compile(r"ray: (\d+) workers, started in ([\d.]+)s")
SHARDS = ".distillguard-shards"


def host_files() -> list[Path]:
    """Texts of the installed packages (no output is made from them: outputs come from the
    stdlib)."""
    root = Path(sysconfig.get_paths()["purelib"])
    return sorted(p for p in root.rglob("*") if p.suffix in HOST_SUFFIXES and p.is_file())


def stdlib_files() -> list[Path]:
    return sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))


def write_corpus(target: Path, mb: int, shard_mb: int, planted: list[str], seed: int) -> int:
    """JSONL shards under ``target``; returns how many documents carry an output."""
    rng = random.Random(seed + 2)
    files = host_files()
    texts = []
    for path in files:
        try:
            texts.append(path.read_text("utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
    target.mkdir(parents=True)
    n = size = carried = 0
    shard = None
    while size < mb * 1_000_000:
        for text in rng.sample(texts, len(texts)):
            if shard is None or shard.tell() >= shard_mb * 1_000_000:
                if shard is not None:
                    shard.close()
                shard = (target / f"shard-{n:08d}.jsonl").open("w", encoding="utf-8")
            if n % 50 == 0 and planted:
                out = planted.pop()
                text = text + "\n\n" + (out if n % 100 == 0 else scale.edit(out, rng))
                carried += 1
            shard.write(json.dumps({"id": f"doc-{n}", "text": text}) + "\n")
            size += len(text)
            n += 1
            if size >= mb * 1_000_000:
                break
    if shard is not None:
        shard.close()
    return carried


def scan_cmd(corpus: Path, out: Path, engine: str, workers: int, *extra: str) -> list[str]:
    return [
        str(BIN / "distillguard"),
        "scan",
        str(corpus),
        "--out",
        str(out),
        "--id-field",
        "id",
        "--engine",
        engine,
        "--workers",
        str(workers),
        *extra,
    ]


def timed_scan(cmd: list[str], env: dict[str, str], fresh: Path | None = None) -> dict[str, Any]:
    """One scan: wall and CPU seconds, peak RSS, and what its report and stderr say."""
    if fresh is not None:
        shutil.rmtree(fresh, ignore_errors=True)
    os.sync()
    print("$", " ".join(cmd), flush=True)
    full = ["/usr/bin/time", "-f", "@@ %e %M %U %S", *cmd]
    proc = subprocess.run(full, env=env, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        sys.exit(f"failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return measured(proc.stderr, Path(cmd[cmd.index("--out") + 1]))


def measured(stderr: str, out: Path) -> dict[str, Any]:
    line = [ln for ln in stderr.splitlines() if ln.startswith("@@ ")][-1]
    wall, rss_kb, user, system = line.split()[1:]
    rep = json.loads((out / "report.json").read_text())
    result: dict[str, Any] = {
        "wall_seconds": float(wall),
        "cpu_seconds_driver": round(float(user) + float(system), 2),
        "peak_rss_mb_driver": round(int(rss_kb) / 1024, 1),
        "report_seconds": rep["seconds"],
        "documents": rep["documents"],
        "flagged": rep["flagged"],
        "mb": round(rep["bytes"] / 1e6, 1),
        "mb_per_s": round(rep["bytes"] / 1e6 / rep["seconds"], 1),
    }
    started = STARTED.search(stderr)
    if started:
        startup = float(started.group(2))
        result["ray_workers"] = int(started.group(1))
        result["ray_startup_seconds"] = startup
        result["mb_per_s_without_startup"] = round(
            rep["bytes"] / 1e6 / max(rep["seconds"] - startup, 1e-9), 1
        )
    resumed = re.search(r"resumed: (\d+) of (\d+) shards", stderr)
    if resumed:
        result["shards_reused"] = int(resumed.group(1))
    return result


def comparable(out: Path) -> dict[str, Any]:
    rep = json.loads((out / "report.json").read_text())
    return {k: v for k, v in rep.items() if k not in ("seconds", "workers")}


def markers(out: Path) -> int:
    return len(list((out / SHARDS).glob("*.json"))) if (out / SHARDS).is_dir() else 0


def actor_pids() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cmdline").read_bytes().startswith(b"ray::_Worker"):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def worker_killed(corpus: Path, work: Path, env: dict[str, str], shards: int) -> dict[str, Any]:
    """Ray on 2 workers with one actor SIGKILLed once a quarter of the shards are done."""
    out = work / "scan-ray-2-worker-killed"
    killed: list[float] = []
    began = time.monotonic()

    def killer() -> None:
        while markers(out) < max(1, shards // 4) and time.monotonic() - began < 3600:
            time.sleep(0.05)
        pids = actor_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(round(time.monotonic() - began, 1))

    thread = threading.Thread(target=killer)
    shutil.rmtree(out, ignore_errors=True)
    thread.start()
    result = timed_scan(scan_cmd(corpus, out, "ray", 2), env)
    thread.join()
    result["killed_at_seconds"] = killed[0] if killed else None
    return result


def driver_killed(corpus: Path, work: Path, env: dict[str, str], shards: int) -> dict[str, Any]:
    """Ray on 2 workers, the driver's process group SIGKILLed at half the shards; resumed."""
    out = work / "scan-ray-2-resumed"
    shutil.rmtree(out, ignore_errors=True)
    os.sync()
    began = time.monotonic()
    driver = subprocess.Popen(
        scan_cmd(corpus, out, "ray", 2),
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while markers(out) < shards // 2 and driver.poll() is None:
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    until_kill = round(time.monotonic() - began, 1)
    done_at_kill = markers(out)
    resumed = timed_scan(scan_cmd(corpus, out, "ray", 2, "--resume"), env)
    resumed.update(
        killed_after_seconds=until_kill,
        shards_complete_at_kill=done_at_kill,
        shards=shards,
        total_seconds=round(until_kill + resumed["wall_seconds"], 1),
    )
    return resumed


def baseline(args: argparse.Namespace, corpus: Path, work: Path, env: dict[str, str]) -> dict:
    """One worker, local engine, old code vs this code, alternating, on a few shards."""
    small = work / "corpus-small"
    if not small.is_dir():
        small.mkdir()
        for path in sorted(corpus.glob("*.jsonl"))[: args.baseline_shards]:
            os.link(path, small / path.name)
    old_env = {**env, "PYTHONPATH": str(args.baseline_src)}
    runs: dict[str, list[float]] = {"before": [], "after": []}
    for repeat in range(args.repeats + 1):  # the first round warms numba's caches: not kept
        for name, run_env in (("before", old_env), ("after", env)):
            cmd = scan_cmd(small, work / f"scan-{name}", "local", 1)
            cmd = cmd[: cmd.index("--engine")] + cmd[cmd.index("--workers") :]  # old CLI: no flag
            speed = timed_scan(cmd, run_env, work / f"scan-{name}")["mb_per_s"]
            if repeat:
                runs[name].append(speed)
    same = comparable(work / "scan-before") == comparable(work / "scan-after")
    return {
        "mb": round(sum(p.stat().st_size for p in small.glob("*.jsonl")) / 1e6, 1),
        "runs_mb_per_s": runs,
        "median_mb_per_s": {k: sorted(v)[len(v) // 2] for k, v in runs.items()},
        "same_report": same,
    }


def prepare(args: argparse.Namespace, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """Outputs, ledger, index and corpus (kept between runs with --reuse)."""
    corpus = work / "corpus"
    if args.reuse and corpus.is_dir() and (work / "home").is_dir():
        return json.loads((work / "prepared.json").read_text())  # type: ignore[no-any-return]
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    outputs = work / "outputs.jsonl"
    scale.write_outputs(outputs, args.outputs, scale.functions(stdlib_files(), 8_000), args.seed)
    dg = str(BIN / "distillguard")
    prepared = {
        "record": scale.timed([dg, "record", "--jsonl", str(outputs)], env),
        "index_build": scale.timed([dg, "index", "build"], env),
    }
    planted = scale.sample_outputs(outputs, 2000, args.seed)
    prepared["planted"] = write_corpus(corpus, args.mb, args.shard_mb, planted, args.seed)
    (work / "prepared.json").write_text(json.dumps(prepared))
    return prepared


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mb", type=int, default=1100)
    p.add_argument("--shard-mb", type=int, default=64)
    p.add_argument("--outputs", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work", type=Path, default=HERE / ".work" / "ray_engine")
    p.add_argument("--out", type=Path, default=HERE / "results" / "ray_engine.json")
    p.add_argument("--reuse", action="store_true", help="keep the corpus, ledger and index")
    p.add_argument("--baseline-src", type=Path, default=None)
    p.add_argument("--baseline-shards", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    work = args.work
    env = {**os.environ, "DISTILLGUARD_HOME": str(work / "home")}
    env.pop("DISTILLGUARD_DB", None)
    env.pop("RAY_ADDRESS", None)
    results: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/ray_engine.py", *sys.argv[1:]]),
        "machine": report.machine(),
        "note": "2 cores, shared: the driver, the Ray cluster's own processes (GCS, raylet) "
        "and the workers all run on them; a 2-worker scan has no spare core for anything else",
    }
    results.update(prepare(args, work, env))
    corpus = work / "corpus"
    shards = len(list(corpus.glob("*.jsonl")))
    results["corpus"] = {
        "shards": shards,
        "mb": round(sum(p.stat().st_size for p in corpus.glob("*.jsonl")) / 1e6, 1),
    }
    scans: dict[str, Any] = {}
    for engine in ("local", "ray"):
        for workers in (1, 2):
            out = work / f"scan-{engine}-{workers}"
            scans[f"{engine}-{workers}"] = timed_scan(
                scan_cmd(corpus, out, engine, workers), env, out
            )
            save(args.out, {**results, "scans": scans})
    reference = comparable(work / "scan-local-1")
    for name in scans:
        scans[name]["same_report_as_local_1"] = comparable(work / f"scan-{name}") == reference
    results["scans"] = scans
    local2, ray2 = scans["local-2"]["mb_per_s"], scans["ray-2"]["mb_per_s_without_startup"]
    results["ray_vs_local_at_2_workers"] = {
        "local_mb_per_s": local2,
        "ray_mb_per_s_without_startup": ray2,
        "ray_mb_per_s_with_startup": scans["ray-2"]["mb_per_s"],
        "ratio_without_startup": round(ray2 / local2, 3),
    }
    killed = worker_killed(corpus, work, env, shards)
    killed["same_report_as_local_1"] = comparable(work / "scan-ray-2-worker-killed") == reference
    killed["vs_clean_run"] = round(killed["wall_seconds"] / scans["ray-2"]["wall_seconds"], 3)
    results["worker_killed"] = killed
    save(args.out, results)
    resumed = driver_killed(corpus, work, env, shards)
    resumed["same_report_as_local_1"] = comparable(work / "scan-ray-2-resumed") == reference
    resumed["total_vs_clean_run"] = round(
        resumed["total_seconds"] / scans["ray-2"]["wall_seconds"], 3
    )
    results["driver_killed_then_resumed"] = resumed
    save(args.out, results)
    if args.baseline_src:
        results["one_worker_before_after"] = baseline(args, corpus, work, env)
    save(args.out, results)
    print(json.dumps(results, indent=1))


def save(path: Path, results: dict[str, Any]) -> None:
    """Write what is measured so far (a long run stopped midway keeps its figures)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
