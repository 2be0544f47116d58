"""What outside models cost: ``usage`` (and ``usage reconcile``) and ``prices check``.

Estimated usage (answers whose vendor sent no token counts) is in the totals, and marked
wherever they are shown: ``~`` before a count that includes estimates, an ``estimated`` column,
``estimated_outputs`` / ``estimated_tokens`` in JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from distillguard.cli._app import Context, err_console
from distillguard.model import UsageRow

if TYPE_CHECKING:
    from distillguard.capture.reconcile import Reconciliation
    from distillguard.ledger.accounts import ModelSeen

USAGE_BY = ("team", "actor", "vendor", "model", "tool")
SUMMED = ("outputs", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
          "cost_usd", "unpriced_outputs", "estimated_outputs", "estimated_tokens")  # fmt: skip
FAILED = 1


@click.group(invoke_without_command=True)
@click.option("--by", type=click.Choice(USAGE_BY), default="team", show_default=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this day (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def usage(ctx: click.Context, by: str, since: datetime | None, as_json: bool) -> None:
    """Tokens and cost of the gateway's outputs, internal vs external share; estimated usage
    (a stream that reported none) is marked with ~."""
    if ctx.invoked_subcommand is not None:
        return
    obj: Context = ctx.obj
    start = since.replace(tzinfo=UTC) if since else None
    with obj.ledger() as ledger:
        rows = ledger.usage(by, start)
    report = _report(rows, obj, by)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    _print_report(report, by)


def _report(rows: list[UsageRow], obj: Context, by: str) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    share = {"internal": 0.0, "external": 0.0}
    tokens_share = {"internal": 0, "external": 0}
    for row in rows:
        name = row.group if row.group is not None else "(none)"
        group = groups.setdefault(name, {by: name} | {field: 0 for field in SUMMED})
        values = _row_values(row)
        for field in SUMMED:
            group[field] += values[field]
        cls = obj.settings.vendor_class(row.vendor)
        share[cls] += row.cost_usd
        tokens_share[cls] += row.input_tokens + row.output_tokens + row.cache_read_tokens
    total_cost = sum(share.values())
    total_tokens = sum(tokens_share.values())
    return {
        "by": by,
        "groups": list(groups.values()),
        "cost_usd": total_cost,
        "unpriced_outputs": sum(g["unpriced_outputs"] for g in groups.values()),
        "estimated_outputs": sum(g["estimated_outputs"] for g in groups.values()),
        "estimated_tokens": sum(g["estimated_tokens"] for g in groups.values()),
        "internal_share": {
            "cost": share["internal"] / total_cost if total_cost else None,
            "tokens": tokens_share["internal"] / total_tokens if total_tokens else None,
        },
        "cost_by_class": share,
        "tokens_by_class": tokens_share,
    }


def _row_values(row: UsageRow) -> dict[str, Any]:
    return {
        "outputs": row.outputs,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "cost_usd": row.cost_usd,
        "unpriced_outputs": row.unpriced,
        "estimated_outputs": row.estimated,
        "estimated_tokens": row.estimated_tokens,
    }


def _print_report(report: dict[str, Any], by: str) -> None:
    table = Table(by, "outputs", "input", "output", "cache read", "cache write", "cost (USD)",
                  "estimated")  # fmt: skip
    for g in report["groups"]:
        mark = "~" if g["estimated_outputs"] else ""  # a total that includes estimates
        cost = f"{mark}{g['cost_usd']:.4f}" + (f" (+{g['unpriced_outputs']} unpriced)"
                                               if g["unpriced_outputs"] else "")  # fmt: skip
        estimated = str(g["estimated_outputs"]) if g["estimated_outputs"] else "-"
        table.add_row(g[by], str(g["outputs"]), f"{mark}{g['input_tokens']}",
                      f"{mark}{g['output_tokens']}", str(g["cache_read_tokens"]),
                      str(g["cache_write_tokens"]), cost, estimated)  # fmt: skip
    Console().print(table)
    share = report["internal_share"]
    tokens = "-" if share["tokens"] is None else f"{share['tokens']:.1%}"
    cost = "-" if share["cost"] is None else f"{share['cost']:.1%}"
    mark = "~" if report["estimated_outputs"] else ""
    click.echo(
        f"total {mark}${report['cost_usd']:.4f}; internal share: {tokens} of tokens, {cost} of cost"
    )
    _print_warnings(report)


def _print_warnings(report: dict[str, Any]) -> None:
    if report["estimated_outputs"]:
        err_console().print(
            f"[yellow]~ {report['estimated_outputs']} output(s) carry estimated usage "
            f"({report['estimated_tokens']} input and output tokens, UTF-8 bytes / 4): their "
            "vendor reported none; the totals marked ~ are estimates, not counts[/yellow]"
        )
    if report["unpriced_outputs"]:
        err_console().print(
            f"[yellow]{report['unpriced_outputs']} output(s) have no price (model missing from "
            "the price table): their cost is unknown, not counted above[/yellow]"
        )


@usage.command("reconcile")
@click.argument("export", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--vendor", required=True, type=click.Choice(("anthropic", "openai", "google")),
              help="The export's format: whose usage export it is.")  # fmt: skip
@click.option("--recorded-as", help="The vendor name its outputs are recorded under "
              "(default: --vendor).")  # fmt: skip
@click.option("--tolerance", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="The largest difference allowed, in % of the vendor's figure.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def usage_reconcile(
    obj: Context,
    export: Path,
    vendor: str,
    recorded_as: str | None,
    tolerance: float,
    as_json: bool,
) -> None:
    """Hold `usage --by model` against the vendor's own usage export over its period; exit 1
    when a model's figure differs by more than the tolerance."""
    from distillguard.capture.reconcile import reconcile
    from distillguard.capture.wire import exports

    found = exports.read(export, vendor)
    with obj.ledger() as ledger:
        rows = ledger.usage("model", found.start, found.end)
    recorded = recorded_as or vendor
    result = reconcile([r for r in rows if r.vendor == recorded], found, tolerance / 100)
    if as_json:
        click.echo(json.dumps(_reconciliation(result), indent=2))
    else:
        _print_reconciliation(result)
    if not result.ok:
        raise SystemExit(FAILED)


def _reconciliation(result: Reconciliation) -> dict[str, Any]:
    return {
        "vendor": result.vendor,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "tolerance": result.tolerance,
        "ok": result.ok,
        "lines": [
            {"model": line.model, "measure": line.measure, "ours": line.ours,
             "theirs": line.theirs, "difference": line.difference, "share": line.share,
             "estimated": line.estimated, "within": line.within(result.tolerance)}
            for line in result.lines
        ],
    }  # fmt: skip


def _print_reconciliation(result: Reconciliation) -> None:
    period = f"{result.start.isoformat()} .. {result.end.isoformat()}"
    table = Table("model", "measure", "ours", "theirs", "difference", "%", "",
                  title=f"{result.vendor} usage, {period}")  # fmt: skip
    for line in result.lines:
        share = "-" if line.share is None else f"{line.share:+.2%}"
        verdict = "ok" if line.within(result.tolerance) else "BEYOND"
        mark = "~" if line.estimated else ""
        table.add_row(line.model, line.measure, f"{mark}{_figure(line.ours)}",
                      _figure(line.theirs), _figure(line.difference, signed=True), share,
                      verdict)  # fmt: skip
    Console(width=160).print(table)
    beyond = len(result.beyond)
    limit = f"{result.tolerance:.2%}"
    if beyond:
        click.echo(f"{beyond} figure(s) differ by more than {limit}")
    else:
        click.echo(f"every figure is within {limit}")


def _figure(value: float, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{value:{sign},.0f}" if float(value).is_integer() else f"{value:{sign},.4f}"


@click.group()
def prices() -> None:
    """The price table in force ([gateway] prices, or the packaged one)."""


@prices.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def prices_check(obj: Context, as_json: bool) -> None:
    """List the (vendor, model) pairs of the ledger with no price; exit 1 when there are any."""
    from distillguard.capture.wire import prices as pricing

    path = obj.settings.prices_path
    table = pricing.load(path)
    with obj.ledger() as ledger:
        missing = pricing.unpriced(table, ledger.models())
    where = str(path) if path else "the packaged price table"
    if as_json:
        listed = [{"vendor": m.vendor, "model": m.model, "outputs": m.outputs,
                   "outputs_with_usage": m.with_usage} for m in missing]  # fmt: skip
        report = {"price_table": where, "version": table.version, "unpriced": listed}
        click.echo(json.dumps(report, indent=2))
    else:
        _print_unpriced(missing, where, table.version)
    if missing:
        raise SystemExit(FAILED)


def _print_unpriced(missing: list[ModelSeen], where: str, version: str) -> None:
    if not missing:
        click.echo(f"every model in the ledger has a price in {where} (version {version})")
        return
    table = Table("vendor", "model", "outputs", "with usage")
    for m in missing:
        table.add_row(m.vendor, m.model, str(m.outputs), str(m.with_usage))
    Console().print(table)
    click.echo(f"{len(missing)} model(s) have no price in {where} (version {version})")


COMMANDS = (usage, prices)
