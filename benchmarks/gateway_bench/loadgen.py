"""The load generator, as its own process so its CPU is measured apart from everything else.

    python -m benchmarks.gateway_bench.loadgen --port 8089 --api anthropic --concurrency 50 \\
        --duration 10 --warmup 2 [--prefix /anthropic] [--header 'x-api-key: K']

Prints one JSON object: request counts, TTFB and total-time percentiles (ms) of the requests
that ended inside the measured window (after ``--warmup`` seconds, ``--duration`` long),
requests/s (those completions over the window), and the generator's own CPU (seconds, and
share of one core over its whole run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections import Counter
from typing import Any

from .client import Sample, Target, closed_loop


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(
    target: Target,
    concurrency: int,
    duration: float,
    warmup: float,
    ids: list[str],
    stagger: float = 0.0,
) -> dict[str, Any]:
    """Run the closed loop; ``ids`` gets the message id of every complete response (warm-up
    included), for the ledger check."""
    loop_start = time.perf_counter()
    window = (loop_start + warmup, loop_start + warmup + duration)
    samples: list[Sample] = []
    cpu_start = _cpu()

    def keep_going() -> bool:
        return time.perf_counter() < window[1]

    def on_sample(sample: Sample) -> None:
        if sample.complete and sample.message_id:
            ids.append(sample.message_id)
        if window[0] <= sample.start + sample.total < window[1]:  # ended in the window
            samples.append(sample)

    await closed_loop(target, concurrency, keep_going, on_sample, stagger=stagger)
    ended = time.perf_counter()
    cpu_s = _cpu() - cpu_start
    ok = [s for s in samples if s.complete]
    errors = Counter(s.error for s in samples if not s.complete)
    return {
        "api": target.api,
        "concurrency": concurrency,
        "duration_s": duration,
        "stagger_s": stagger,
        "requests": len(samples),
        "completed": len(ok),
        "errors": dict(errors),
        "rps": round(len(ok) / duration, 1),
        "ttfb_ms": {q: _ms(percentile([s.ttfb for s in ok], p)) for q, p in QS},
        "total_ms": {q: _ms(percentile([s.total for s in ok], p)) for q, p in QS},
        "loadgen_cpu_s": round(cpu_s, 3),
        "loadgen_cpu_share": round(cpu_s / max(ended - loop_start, 1e-9), 3),
        "unique_ids": len({s.message_id for s in ok if s.message_id}),
    }


QS = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--api", choices=("anthropic", "chat", "responses", "gemini"), default="anthropic"
    )
    parser.add_argument("--prefix", default="")
    parser.add_argument("--header", action="append", default=[], help="'name: value'")
    parser.add_argument("--model")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--stagger", type=float, default=0.0, help="spread client starts (s)")
    parser.add_argument("--ids", help="append the message id of every complete response here")
    args = parser.parse_args(argv)
    headers = tuple(
        (name.strip(), value.strip()) for name, _, value in (h.partition(":") for h in args.header)
    )
    target = Target(args.host, args.port, args.api, args.prefix, headers, args.model)
    try:
        import uvloop  # the same event loop the servers run on

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    ids: list[str] = []
    result = runner(
        measure(target, args.concurrency, args.duration, args.warmup, ids, args.stagger)
    )
    result["all_completed"] = len(ids)
    if args.ids:
        with open(args.ids, "a") as fh:
            fh.write("".join(f"{i}\n" for i in ids))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
