"""The Gateway block of benchmarks/README.md, made from results/gateway.json.

Only the text between ``<!-- gateway:begin -->`` and ``<!-- gateway:end -->`` is replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN, END = "<!-- gateway:begin -->", "<!-- gateway:end -->"
SYSTEMS = ("direct", "distillguard", "litellm")


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| api | upstream | clients | system | TTFB p50 / p99 (ms) | total p50 / p99 (ms) "
        "| added TTFB p50 / p99 | added total p50 / p99 | req/s (runs) | errors "
        "| proxy CPU ms/req | loadgen CPU |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    order = {name: i for i, name in enumerate(SYSTEMS)}
    rows = sorted(
        rows,
        key=lambda r: (
            r["api"] != "anthropic",
            r["api"],
            r["upstream"] != "paced",
            r["concurrency"],
            order.get(r["system"], 9),
        ),
    )
    lines = []
    for r in rows:
        added = r["system"] != "direct"
        runs = ", ".join(_f(x) for x in r["rps_each_run"])
        lines.append(
            f"| {r['api']} | {r['upstream']} | {r['concurrency']} | {r['system']} "
            f"| {_f(r['ttfb_p50_ms'])} / {_f(r['ttfb_p99_ms'])} "
            f"| {_f(r['total_p50_ms'])} / {_f(r['total_p99_ms'])} "
            f"| {_f(r.get('added_ttfb_p50_ms')) if added else ''}"
            f"{' / ' + _f(r.get('added_ttfb_p99_ms')) if added else ''} "
            f"| {_f(r.get('added_total_p50_ms')) if added else ''}"
            f"{' / ' + _f(r.get('added_total_p99_ms')) if added else ''} "
            f"| **{_f(r['rps'])}** ({runs}) | {r['errors']} "
            f"| {_f(r.get('proxy_cpu_ms_per_request'), 2) if added else ''} "
            f"| {_f(r['loadgen_cpu_share'] * 100 if r['loadgen_cpu_share'] else None, 0)}% |"
        )
    return head + "\n".join(lines) + "\n"


def block(result: dict[str, Any]) -> str:
    m, s = result["machine"], result["settings"]
    verdict = result.get("verdict", {})
    ledger = result.get("distillguard_ledger", {})
    litellm = result.get("litellm", {})
    out = [
        f"Run {m['date']} on {m['nproc']} cores ({m['cpu']}), Python {m['python']}, shared "
        f"with other work (load average {' '.join(m['load_before'])} before, "
        f"{' '.join(m['load_after'])} after); commit `{result['git']['commit'][:10]}`. "
        f"Command: `{result['command']}`. Medians of {s['runs']} runs, {s['duration']} s "
        f"measured after {s['warmup']} s of warm-up per cell; paced upstream: "
        f"{s['delay'] * 1000:.0f} ms before each SSE event (an Anthropic answer is 14 events, "
        "~0.7 s; a Gemini one 7), client starts spread over "
        f"{s['stagger']} s; unpaced: no delay (CPU-bound).",
        "",
        table(result["rows"]),
        f"Targets at 50 paced streams: added p50 < 2 ms: "
        f"**{'met' if verdict.get('p50_under_2ms') else 'not met'}** "
        f"(TTFB {_f(verdict.get('added_ttfb_p50_ms_at_50'), 2)} ms, total "
        f"{_f(verdict.get('added_total_p50_ms_at_50'), 2)} ms); added p99 < 10 ms: "
        f"**{'met' if verdict.get('p99_under_10ms') else 'not met'}** "
        f"(TTFB {_f(verdict.get('added_ttfb_p99_ms_at_50'), 2)} ms, total "
        f"{_f(verdict.get('added_total_p99_ms_at_50'), 2)} ms). Throughput vs LiteLLM: "
        + ", ".join(
            f"{k.removeprefix('throughput_ratio_').replace('_', ' ')} clients **{v}x**"
            for k, v in verdict.items()
            if k.startswith("throughput_ratio_")
        )
        + ".",
        "",
        f"Ledger check (distillguard, SQLite): {ledger.get('completed')} responses completed "
        f"by the clients (warm-up included, every API), {ledger.get('recorded_once')} of them "
        f"in the ledger exactly once, {ledger.get('lost')} lost, {ledger.get('duplicates')} "
        f"duplicated; `ledger verify` {'passed' if ledger.get('verify_ok') else 'FAILED'}. "
        f"LiteLLM {litellm.get('version')}: {litellm.get('logged_rows')} rows logged to "
        f"PostgreSQL for {litellm.get('completed_responses')} completed responses.",
    ]
    if any(r["api"] == "gemini" for r in result["rows"]):
        out[-1] += (
            " Gemini cells (`streamGenerateContent?alt=sse`, key in `x-goog-api-key`): direct "
            "and distillguard only; LiteLLM's Gemini routes were not set up against the fake."
        )
    fault = result.get("fault")
    if fault:
        c = fault["counts"]
        out += [
            "",
            f"Fault run ({fault['seconds']:.0f} s, {fault['clients']} clients, seed "
            f"{fault['seed']}, database: {fault['database']}): {c['kills']} kill -9 of the "
            f"gateway ({c['restarts_while_db_down']} restarts while the database was down), "
            f"one database stop. Sent {c['sent']}, completed {c['completed']} "
            f"({c['completed_while_db_down']} while the database was down), recorded "
            f"{c['recorded_rows']}, in the ledger exactly once {c['recorded_once']}, "
            f"duplicates {c['duplicates']}, **lost {c['lost']}**; `ledger verify` "
            f"{'passed' if c['ledger_verify_ok'] else 'FAILED'}. Failed or cut requests "
            f"(gateway down, refused, cut mid-stream): {c['errors']}.",
        ]
    return "\n".join(out)


def write(readme: Path, result: dict[str, Any]) -> bool:
    """Replace the block; False when the README has no markers."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        return False
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(head + BEGIN + "\n" + block(result) + "\n" + END + tail)
    return True
