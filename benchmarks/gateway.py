"""Gateway benchmark: distillguard serve vs the LiteLLM proxy vs the upstream directly.

    .venv/bin/python benchmarks/gateway.py                 # full run -> results/gateway.json
    .venv/bin/python benchmarks/gateway.py --quick         # a smoke run (1 run, short windows)
    .venv/bin/python benchmarks/gateway.py --fault-only    # only the long fault test

One fake vendor upstream (tests/fakes/vendors.py) paced at ``--delay`` seconds before each SSE
event, and a second one unpaced (delay 0) for the throughput check. The same load generator
(benchmarks/gateway_bench/loadgen.py, its own process) drives each system at each concurrency,
runs interleaved (direct, distillguard, litellm, then again) so drifting load hits all alike,
the proxy not being measured frozen (SIGSTOP) so its idle work does not count against the other.
The cells: Anthropic Messages streams at each ``--concurrency`` (paced) and
``--fast-concurrency`` (unpaced), OpenAI chat and Responses streams at ``--openai-concurrency``,
Gemini ``streamGenerateContent?alt=sse`` streams at each ``--gemini-concurrency`` (paced; direct
and distillguard only, see LITELLM_FORM). Added latency = the system's TTFB / total-time
percentile minus the direct one, in the same run; the figures are medians over ``--runs``.
LiteLLM runs from its own venv under benchmarks/.work (see ensure_litellm) with a PostgreSQL
logging callback (gateway_bench/litellm_pg_logger.py: Prisma, which LiteLLM's own DB logging
needs, cannot download its engines offline).
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gateway_bench import faults, render
from gateway_bench.procs import (
    LITELLM_MASTER,
    PYTHON,
    REPO,
    VENDOR_KEYS,
    DgHome,
    Proc,
    start_litellm,
    start_upstream,
)
from report import machine

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "gateway"
LITELLM_VERSION = "1.100.5"  # newer ones need a certifi release the index does not have yet
LITELLM_VENV = HERE / ".work" / "litellm" / "venv"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LITELLM_DB = "litellm_bench"
PG_LOG_TABLE = "litellm_bench_logs"


def ensure_litellm() -> Path:
    """LiteLLM's own venv (never the project's: the quality benchmark reads its packages)."""
    litellm = LITELLM_VENV / "bin" / "litellm"
    if not litellm.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        pip = [str(LITELLM_VENV / "bin" / "pip"), "install", "-q"]
        subprocess.run([*pip, f"litellm[proxy]=={LITELLM_VERSION}", "psycopg[binary]"], check=True)
    return LITELLM_VENV


def ensure_pg_log_table() -> str:
    """The database the LiteLLM callback writes to, emptied; returns its psycopg URL."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": LITELLM_DB}
        ).scalar():
            conn.execute(sa.text(f"CREATE DATABASE {LITELLM_DB}"))
    admin.dispose()
    engine = sa.create_engine(PG_ADMIN.rsplit("/", 1)[0] + "/" + LITELLM_DB)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE IF NOT EXISTS {PG_LOG_TABLE} (id bigserial PRIMARY KEY,"
                " at timestamptz DEFAULT now(), payload jsonb)"
            )
        )
        conn.execute(sa.text(f"TRUNCATE {PG_LOG_TABLE}"))
    engine.dispose()
    return f"postgresql://postgres@127.0.0.1:5432/{LITELLM_DB}"


def pg_logged() -> int:
    engine = sa.create_engine(PG_ADMIN.rsplit("/", 1)[0] + "/" + LITELLM_DB)
    with engine.connect() as conn:
        count = int(conn.execute(sa.text(f"SELECT count(*) FROM {PG_LOG_TABLE}")).scalar() or 0)
    engine.dispose()
    return count


# --- one measurement ----------------------------------------------------------------------


#: The distillguard upstream (and vendor key) each load-generator API goes through.
VENDORS = {"anthropic": "anthropic", "chat": "openai", "responses": "openai", "gemini": "gemini"}
#: The APIs LiteLLM is measured on (Gemini: see LITELLM_FORM).
LITELLM_APIS = ("anthropic", "chat", "responses")


def _auth(vendor: str, secret: str) -> str:
    """The header a client of ``vendor`` sends its key in."""
    if vendor == "anthropic":
        return f"x-api-key: {secret}"
    if vendor == "gemini":
        return f"x-goog-api-key: {secret}"
    return f"authorization: Bearer {secret}"


def target_args(system: str, api: str, fast: bool, ports: dict[str, int], key: str) -> list[str]:
    """Load-generator arguments that aim ``api`` calls at ``system``."""
    vendor = VENDORS[api]
    if system == "direct":
        header = _auth(vendor, VENDOR_KEYS[f"{vendor.upper()}_API_KEY"])
        return ["--port", str(ports["fast" if fast else "paced"]), "--header", header]
    if system == "distillguard":
        prefix = f"/{vendor}_fast" if fast else f"/{vendor}"
        header = _auth(vendor, key)
        return ["--port", str(ports["distillguard"]), "--prefix", prefix, "--header", header]
    model = {"anthropic": "claude", "chat": "gpt", "responses": "gpt"}[api]
    return [
        "--port",
        str(ports["litellm"]),
        "--model",
        f"{model}-{'fast' if fast else 'paced'}",
        "--header",
        f"authorization: Bearer {LITELLM_MASTER}",
    ]


def measure(
    system: str,
    api: str,
    concurrency: int,
    fast: bool,
    args: argparse.Namespace,
    ports: dict[str, int],
    key: str,
    servers: dict[str, Proc],
    ids_file: Path,
) -> dict[str, Any]:
    command = [
        PYTHON,
        "-m",
        "benchmarks.gateway_bench.loadgen",
        "--api",
        api,
        "--concurrency",
        str(concurrency),
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "--stagger",
        str(0.0 if fast else args.stagger),
        *target_args(system, api, fast, ports, key),
    ]
    if system == "distillguard":
        command += ["--ids", str(ids_file)]
    before = {name: proc.cpu for name, proc in servers.items()}
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=args.duration + args.warmup + 120,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    used = {name: round(proc.cpu - before[name], 2) for name, proc in servers.items()}
    result["server_cpu_s"] = used
    result["wall_s"] = round(wall, 2)
    proxy = {"distillguard": "distillguard", "litellm": "litellm"}.get(system)
    if proxy and result["all_completed"]:
        result["proxy_cpu_ms_per_request"] = round(used[proxy] * 1000 / result["all_completed"], 3)
    result.update(system=system, fast=fast)
    return result


# --- the sweep ----------------------------------------------------------------------------


def cells(args: argparse.Namespace) -> list[tuple[str, int, bool]]:
    """(api, concurrency, fast) measured in each run."""
    out = [("anthropic", c, False) for c in args.concurrency]
    out += [("anthropic", c, True) for c in args.fast_concurrency]
    out += [(api, args.openai_concurrency, False) for api in ("chat", "responses")]
    out += [("gemini", c, False) for c in args.gemini_concurrency]
    return out


def systems_for(api: str, systems: list[str]) -> list[str]:
    """The systems an ``api`` cell measures (LiteLLM only on LITELLM_APIS)."""
    return [s for s in systems if s != "litellm" or api in LITELLM_APIS]


def sweep(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    paced = start_upstream(work, args.delay)
    fast = start_upstream(work, 0.0)
    servers: dict[str, Proc] = {"upstream_paced": paced, "upstream_fast": fast}
    try:
        origins = {
            "paced": f"http://127.0.0.1:{paced.port}",
            "fast": f"http://127.0.0.1:{fast.port}",
        }
        home = DgHome(
            work / "dg-home",
            None,
            {
                "anthropic": origins["paced"],
                "anthropic_fast": origins["fast"],
                "openai": origins["paced"],
                "openai_fast": origins["fast"],
                "gemini": origins["paced"],
            },
        )
        key = home.create_key()
        servers["distillguard"] = home.serve()
        systems = ["direct", "distillguard"]
        if not args.no_litellm:
            models = {f"claude-{m}": ("anthropic/claude-sonnet-4-5", origins[m]) for m in origins}
            models |= {f"gpt-{m}": ("openai/gpt-4o-mini", origins[m] + "/v1") for m in origins}
            pg_url = ensure_pg_log_table()
            servers["litellm"] = start_litellm(work, ensure_litellm(), models, pg_url)
            systems.append("litellm")
        ports = {
            "paced": paced.port,
            "fast": fast.port,
            **{name: servers[name].port for name in ("distillguard", "litellm") if name in servers},
        }
        ids_file = work / "dg-ids.txt"
        warm = argparse.Namespace(**{**vars(args), "duration": 2.0, "warmup": 0.5})
        warmed: dict[str, int] = {}
        for system in systems:  # first calls are slow (imports, pools): not measured
            _alone(servers, system)
            for api in ("anthropic", "chat", "responses", "gemini"):
                if system not in systems_for(api, systems):
                    continue
                done = measure(system, api, 8, False, warm, ports, key, servers, ids_file)
                warmed[system] = warmed.get(system, 0) + done["all_completed"]
        samples = []
        for run in range(args.runs):
            for api, concurrency, is_fast in cells(args):
                for system in systems_for(api, systems):
                    _alone(servers, system)
                    result = measure(
                        system, api, concurrency, is_fast, args, ports, key, servers, ids_file
                    )
                    result["run"] = run
                    samples.append(result)
                    print(_line(result), flush=True)
        _alone(servers, "all")
        ledger = check_ledger(home, servers.pop("distillguard"), ids_file)
        logged = None
        if "litellm" in servers:
            time.sleep(1.5)  # its callback flushes every 0.5 s
            logged = pg_logged()
        return {
            "samples": samples,
            "ledger": ledger,
            "litellm_pg_logged": logged,
            "litellm_completed": warmed.get("litellm", 0)
            + sum(s["all_completed"] for s in samples if s["system"] == "litellm"),
        }
    finally:
        for proc in servers.values():
            proc.stop()


def _alone(servers: dict[str, Proc], system: str) -> None:
    """Only ``system``'s proxy runs ("all": both, "direct": neither); the other is frozen, so
    its idle work (LiteLLM's is not nothing) does not land in the measured system's figures."""
    for name in ("distillguard", "litellm"):
        if name in servers:
            if system in (name, "all"):
                servers[name].resume()
            else:
                servers[name].pause()


def check_ledger(home: DgHome, gateway: Proc, ids_file: Path) -> dict[str, Any]:
    """Stop the gateway (SIGTERM drains the spool), then every id the clients completed must
    be in the ledger exactly once."""
    gateway.stop()
    seen = ids_file.read_text().split() if ids_file.exists() else []
    recorded = faults.ledger_ids(
        home.env.get("DISTILLGUARD_DB") or f"sqlite:///{home.home / 'ledger.db'}"
    )
    verify = faults.verify(home.env)
    return faults.tally(seen, recorded) | {"verify_ok": verify}


def _line(r: dict[str, Any]) -> str:
    return (
        f"run {r['run']} {r['system']:>12} {r['api']:>9} c={r['concurrency']:<3} "
        f"{'fast ' if r['fast'] else 'paced'} rps={r['rps']:<7} ttfb p50={r['ttfb_ms']['p50']} "
        f"p99={r['ttfb_ms']['p99']} total p50={r['total_ms']['p50']} p99={r['total_ms']['p99']} "
        f"err={r['errors']} lg_cpu={r['loadgen_cpu_share']} srv={r['server_cpu_s']}"
    )


# --- summary ------------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def summarize(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (api, concurrency, fast, system): medians over runs; added latency vs direct paired
    within each run."""
    direct = {
        (s["run"], s["api"], s["concurrency"], s["fast"]): s
        for s in samples
        if s["system"] == "direct"
    }
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for s in samples:
        groups.setdefault((s["api"], s["concurrency"], s["fast"], s["system"]), []).append(s)
    rows = []
    for (api, conc, fast, system), runs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        row: dict[str, Any] = {
            "api": api,
            "concurrency": conc,
            "upstream": "unpaced" if fast else "paced",
            "system": system,
            "runs": len(runs),
        }
        for metric in ("ttfb_ms", "total_ms"):
            for q in ("p50", "p99"):
                row[f"{metric[:-3]}_{q}_ms"] = _median([r[metric][q] for r in runs])
                if system != "direct":
                    added = []
                    for r in runs:
                        base = direct.get((r["run"], api, conc, fast))
                        if base and r[metric][q] is not None and base[metric][q] is not None:
                            added.append(r[metric][q] - base[metric][q])
                    row[f"added_{metric[:-3]}_{q}_ms"] = _median(added)  # type: ignore[arg-type]
        row["rps"] = _median([r["rps"] for r in runs])
        row["rps_each_run"] = [r["rps"] for r in runs]
        row["errors"] = sum(sum(r["errors"].values()) for r in runs)
        row["requests"] = sum(r["requests"] for r in runs)
        row["loadgen_cpu_share"] = _median([r["loadgen_cpu_share"] for r in runs])
        row["proxy_cpu_ms_per_request"] = _median([r.get("proxy_cpu_ms_per_request") for r in runs])
        rows.append(row)
    return rows


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def row(system: str, conc: int, upstream: str) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in rows
                if r["system"] == system
                and r["api"] == "anthropic"
                and r["concurrency"] == conc
                and r["upstream"] == upstream
            ),
            None,
        )

    out: dict[str, Any] = {}
    dg = row("distillguard", 50, "paced")
    if dg:
        out["added_ttfb_p50_ms_at_50"] = dg["added_ttfb_p50_ms"]
        out["added_ttfb_p99_ms_at_50"] = dg["added_ttfb_p99_ms"]
        out["added_total_p50_ms_at_50"] = dg["added_total_p50_ms"]
        out["added_total_p99_ms_at_50"] = dg["added_total_p99_ms"]
        out["p50_under_2ms"] = max(dg["added_ttfb_p50_ms"], dg["added_total_p50_ms"]) < 2
        out["p99_under_10ms"] = max(dg["added_ttfb_p99_ms"], dg["added_total_p99_ms"]) < 10
    for upstream in ("unpaced", "paced"):
        for conc in sorted({r["concurrency"] for r in rows}):
            a, b = row("distillguard", conc, upstream), row("litellm", conc, upstream)
            if a and b and b["rps"]:
                out[f"throughput_ratio_{upstream}_{conc}"] = round(a["rps"] / b["rps"], 2)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="measured s per cell")
    parser.add_argument("--warmup", type=float, default=3.0, help="s before the window")
    parser.add_argument(
        "--stagger", type=float, default=1.0, help="paced runs: client starts spread over (s)"
    )
    parser.add_argument("--delay", type=float, default=0.05, help="paced upstream: s per event")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--fast-concurrency", type=int, nargs="*", default=[50, 200])
    parser.add_argument("--openai-concurrency", type=int, default=50)
    parser.add_argument(
        "--gemini-concurrency",
        type=int,
        nargs="*",
        default=[50],
        help="Gemini streamGenerateContent?alt=sse cells, paced (none: no Gemini cells)",
    )
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1 run, 3 s windows")
    parser.add_argument("--fault-seconds", type=float, default=90.0)
    parser.add_argument("--fault-clients", type=int, default=40)
    parser.add_argument("--fault-only", action="store_true")
    parser.add_argument("--no-fault", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "gateway.json")
    parser.add_argument(
        "--render-only", action="store_true", help="only rewrite the README block from --out"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    if args.render_only:
        render.write(HERE / "README.md", json.loads(args.out.read_text()))
        return
    if args.quick:
        args.runs, args.duration, args.warmup, args.fault_seconds = 1, 3.0, 1.5, 30.0
    work = WORK / time.strftime("%Y%m%d-%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = (
        json.loads(args.out.read_text()) if (args.fault_only and args.out.exists()) else {}
    )
    result["machine"] = machine()
    result["git"] = git_state()
    result["machine"]["load_before"] = Path("/proc/loadavg").read_text().split()[:3]
    if not args.fault_only:
        swept = sweep(args, work)
        rows = summarize(swept["samples"])
        result.update(
            command=" ".join(["python benchmarks/gateway.py", *(argv or sys.argv[1:])]),
            settings={k: v for k, v in vars(args).items() if k != "out"} | {"out": str(args.out)},
            litellm={
                "version": LITELLM_VERSION,
                "form": LITELLM_FORM,
                "logged_rows": swept["litellm_pg_logged"],
                "completed_responses": swept["litellm_completed"],
            },
            distillguard_ledger=swept["ledger"],
            rows=rows,
            verdict=verdict(rows),
            samples=swept["samples"],
        )
        result["settings"]["delay"] = args.delay
    if not args.no_fault:
        result["fault"] = faults.run_fault(
            work / "fault", seconds=args.fault_seconds, clients=args.fault_clients, log=print
        )
    result["machine"]["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    if args.out == HERE / "results" / "gateway.json" and "rows" in result:
        render.write(HERE / "README.md", result)
    print(json.dumps(result.get("verdict"), indent=2))
    print(json.dumps(result.get("fault", {}).get("counts"), indent=2))


def git_state() -> dict[str, Any]:
    """The commit measured, and whether the gateway's files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    paths = ["src/distillguard/capture/gateway", "src/distillguard/cli/gateway.py"]
    return {
        "commit": git("rev-parse", "HEAD"),
        "gateway_uncommitted_changes": git("status", "--porcelain", "--", *paths).split("\n")
        if git("status", "--porcelain", "--", *paths)
        else [],
    }


LITELLM_FORM = (
    "LiteLLM proxy (uvicorn, 1 worker, master key, no DATABASE_URL: Prisma cannot fetch its "
    "engines offline) with a custom success callback that inserts every call's "
    "standard_logging_object into PostgreSQL (database litellm_bench) in batches every 0.5 s; "
    "Anthropic via /v1/messages (model anthropic/...), OpenAI via /v1/chat/completions and "
    "/v1/responses (model openai/...), api_base = the same fake upstream. Not in the Gemini "
    "cells (direct and distillguard only): LiteLLM's Gemini routes (a gemini/... model, its "
    "Google pass-through) were not set up and checked offline against the fake, so no "
    "like-for-like streamGenerateContent?alt=sse figure for it"
)

if __name__ == "__main__":
    main()
