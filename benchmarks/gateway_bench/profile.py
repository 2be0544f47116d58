"""Where the gateway's added latency goes, at 50 paced streams.

    .venv/bin/python -m benchmarks.gateway_bench.profile [--py-spy PATH] [--seconds 10]

Two runs of the load generator through ``distillguard serve`` (SQLite ledger) at 50 paced
clients: the first reads the kernel's scheduler statistics of every process involved
(``/proc/PID/task/*/schedstat``: CPU time, and time spent runnable but waiting for a core), so
the share of the added latency that is waiting for the 2 shared cores shows; the second samples
the gateway with py-spy (``pip install py-spy`` into any venv, e.g. benchmarks/.work/litellm)
and sums its non-idle samples by function. Writes results/gateway-profile.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .procs import PYTHON, REPO, DgHome, Proc, start_upstream

WORK = REPO / "benchmarks" / ".work" / "gateway" / "profile"


def schedstat(pid: int) -> tuple[float, float]:
    """CPU seconds and run-queue wait seconds of every thread of ``pid``."""
    cpu = wait = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            run_ns, wait_ns, _ = (int(x) for x in (task / "schedstat").read_text().split())
        except (OSError, ValueError):
            continue
        cpu += run_ns / 1e9
        wait += wait_ns / 1e9
    return cpu, wait


def loadgen(
    port: int, key: str, seconds: float, prefix: str = "/anthropic"
) -> subprocess.Popen[str]:
    command = [
        PYTHON,
        "-m",
        "benchmarks.gateway_bench.loadgen",
        "--port",
        str(port),
        "--prefix",
        prefix,
        "--header",
        f"x-api-key: {key}",
        "--concurrency",
        "50",
        "--duration",
        str(seconds),
        "--warmup",
        "3",
        "--stagger",
        "1",
    ]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)


IDLE = (
    "Condition.wait",  # threads parked (refresher, drain between rounds)
    "Runner.run (",  # the event loop waiting in epoll
    "Spool._run (",  # the spool writer waiting for records
    "_worker (",  # idle to_thread workers
)


def summarize_raw(raw: Path, top: int = 25) -> dict[str, Any]:
    """py-spy ``--format raw`` folded stacks -> the busiest functions (self and inclusive),
    as shares of the busy samples (a leaf in :data:`IDLE` is a thread waiting)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        if any(stack.rsplit(";", 1)[-1].startswith(mark) for mark in IDLE):
            idle += n
            continue
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.rsplit("/", 1)[-1] if "(" in f else f
            for f in stack.split(";")[1:]
        ]
        for name in set(frames):
            inclusive[name] += n
        if frames:
            own[frames[-1]] += n
    share = lambda c: [(name, round(100 * n / total, 1)) for name, n in c.most_common(top)]  # noqa: E731
    return {
        "busy_samples": total,
        "idle_samples": idle,
        "self_pct": share(own),
        "inclusive_pct": share(inclusive),
    }


def fsync_ms(directory: Path, n: int = 200, pause: float = 0.0) -> dict[str, float]:
    """Latency of appending a 1 KB line and fsyncing it, as the spool does for a last event
    (``n`` times, ``pause`` seconds apart)."""
    path = directory / f"fsync-probe-{pause}"
    times = []
    with path.open("ab") as fh:
        for _ in range(n):
            start = time.perf_counter()
            fh.write(b"x" * 1023 + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
            times.append(time.perf_counter() - start)
            time.sleep(pause)
    path.unlink()
    times.sort()
    out = {q: round(1000 * times[int(p * (n - 1))], 3) for q, p in (("p50", 0.5), ("p99", 0.99))}
    return out | {"max": round(1000 * times[-1], 3), "over_10ms": sum(t > 0.01 for t in times)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--py-spy",
        default=shutil.which("py-spy")
        or str(REPO / "benchmarks" / ".work" / "litellm" / "venv" / "bin" / "py-spy"),
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    upstream = start_upstream(WORK, args.delay)
    home = DgHome(
        WORK / f"home-{int(time.time())}", None, {"anthropic": f"http://127.0.0.1:{upstream.port}"}
    )
    key = home.create_key()
    gateway: Proc = home.serve()
    out: dict[str, Any] = {"load_before": Path("/proc/loadavg").read_text().split()[:3]}
    out["fsync_ms"] = fsync_ms(home.home)
    try:
        direct = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "benchmarks.gateway_bench.loadgen",
                "--port",
                str(upstream.port),
                "--concurrency",
                "50",
                "--duration",
                str(args.seconds),
                "--warmup",
                "3",
                "--stagger",
                "1",
                "--header",
                "x-api-key: k",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        out["direct"] = json.loads(direct.communicate()[0])
        pids = {"gateway": gateway.process.pid, "upstream": upstream.process.pid}
        before = {name: schedstat(pid) for name, pid in pids.items()}
        run = loadgen(gateway.port, key, args.seconds)
        under_load: dict[str, float] = {}
        probe = threading.Thread(  # the spool's disk while the gateway is busy
            target=lambda: under_load.update(fsync_ms(home.home, 400, 0.02)), daemon=True
        )
        time.sleep(3)
        probe.start()
        result = json.loads(run.communicate()[0])
        probe.join()
        out["fsync_ms_under_load"] = under_load
        after = {name: schedstat(pid) for name, pid in pids.items()}
        served = result["all_completed"]
        out["through_gateway"] = result
        out["per_request_ms"] = {
            name: {
                "cpu": round(1000 * (after[name][0] - before[name][0]) / served, 3),
                "runqueue_wait": round(1000 * (after[name][1] - before[name][1]) / served, 3),
            }
            for name in pids
        }
        if os.path.exists(args.py_spy):
            raw = WORK / "py-spy.txt"
            run = loadgen(gateway.port, key, args.seconds)
            time.sleep(3)
            subprocess.run(
                [
                    args.py_spy,
                    "record",
                    "-p",
                    str(gateway.process.pid),
                    "-d",
                    str(int(args.seconds)),
                    "-r",
                    "250",
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                    "--threads",
                ],
                capture_output=True,
                check=False,
            )
            run.communicate()
            if raw.exists():
                out["py_spy"] = summarize_raw(raw)
    finally:
        gateway.stop()
        upstream.stop()
    out["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
    target = REPO / "benchmarks" / "results" / "gateway-profile.json"
    target.write_text(json.dumps(out, indent=2) + "\n")
    keys = ("per_request_ms", "fsync_ms", "fsync_ms_under_load")
    print(json.dumps({k: out[k] for k in keys}, indent=2))
    print(json.dumps(out.get("py_spy", {}).get("self_pct", [])[:15], indent=1))


if __name__ == "__main__":
    main()
