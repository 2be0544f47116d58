"""The gateway's commands: serve, keys (create, list, revoke) and usage."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from distillguard.cli._app import Context, err_console
from distillguard.model import UsageRow

USAGE_BY = ("team", "actor", "vendor", "model", "tool")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8787, show_default=True, type=int, help="Port to listen on.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))  # fmt: skip
@click.pass_obj
def serve(obj: Context, host: str, port: int, log_level: str) -> None:
    """Run the gateway: /NAME/... for each upstream, /healthz, /metrics."""
    import uvicorn

    from distillguard.capture.gateway import logs, serving
    from distillguard.capture.gateway.app import Gateway

    app = Gateway(obj.settings)
    logs.configure(log_level, redact=app.redact)
    config = serving.config(app, obj.settings.gateway_limits, host, port)
    uvicorn.Server(config).run()


@click.group()
def keys() -> None:
    """Gateway keys: each maps to an actor and team and carries its grant."""


@keys.command("create")
@click.option("--actor", required=True, help="Who uses the key.")
@click.option("--team", required=True, help="The actor's team ([teams.NAME] rules apply).")
@click.option("--approved-by", required=True, help="Who granted the use of outside tools.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day of the grant.")
@click.pass_obj
def keys_create(
    obj: Context, actor: str, team: str, approved_by: str, until: datetime | None
) -> None:
    """Create a key; prints it as the last line (it is shown only this once)."""
    from distillguard.capture.gateway.keys import new_key

    key, secret = new_key(actor, team, approved_by, until.date() if until else None)
    with obj.ledger() as ledger:
        ledger.add_key(key)
    grant = f"until {until.date().isoformat()}" if until else "without end"
    click.echo(f"key {key.id} for {actor} (team {team}), approved by {approved_by}, {grant}")
    click.echo(secret)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@click.pass_obj
def keys_list(obj: Context, as_json: bool) -> None:
    """List keys (never their secrets) with their grants and state."""
    now = datetime.now(UTC)
    with obj.ledger() as ledger:
        found = ledger.list_keys()
    table = Table("id", "actor", "team", "approved by", "created", "until", "state")
    for key in found:
        state = (key.refusal(now) and ("revoked" if key.revoked_at else "expired")) or "active"
        until = key.expires_at.date() if key.expires_at else None
        if as_json:
            click.echo(json.dumps({"id": key.id, "actor": key.actor, "team": key.team,
                                   "approved_by": key.approved_by, "state": state,
                                   "created_at": key.created_at.isoformat(),
                                   "until": _last_day(until)}))  # fmt: skip
        else:
            created = key.created_at.date().isoformat()
            row = (key.id, key.actor, key.team, key.approved_by, created, _last_day(until), state)
            table.add_row(*(value or "-" for value in row))
    if not as_json:
        Console().print(table)


def _last_day(expires: date | None) -> str | None:
    """The last day of a grant whose end (exclusive) is ``expires``."""
    return None if expires is None else date.fromordinal(expires.toordinal() - 1).isoformat()


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(obj: Context, key_id: str) -> None:
    """Revoke a key (the gateway refuses it within seconds)."""
    with obj.ledger() as ledger:
        if not ledger.revoke_key(key_id):
            known = {key.id for key in ledger.list_keys()}
            reason = "already revoked" if key_id in known else "no such key"
            raise click.ClickException(f"{key_id}: {reason}")
    click.echo(f"revoked {key_id}")


@click.command()
@click.option("--by", type=click.Choice(USAGE_BY), default="team", show_default=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this day (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def usage(obj: Context, by: str, since: datetime | None, as_json: bool) -> None:
    """Tokens and cost of the gateway's outputs, internal vs external share."""
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
        group = groups.setdefault(name, {by: name, "outputs": 0, "input_tokens": 0,
                                         "output_tokens": 0, "cache_read_tokens": 0,
                                         "cache_write_tokens": 0, "cost_usd": 0.0,
                                         "unpriced_outputs": 0})  # fmt: skip
        for field in ("outputs", "input_tokens", "output_tokens", "cache_read_tokens",
                      "cache_write_tokens", "cost_usd"):  # fmt: skip
            group[field] += getattr(row, field)
        group["unpriced_outputs"] += row.unpriced
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
        "internal_share": {
            "cost": share["internal"] / total_cost if total_cost else None,
            "tokens": tokens_share["internal"] / total_tokens if total_tokens else None,
        },
        "cost_by_class": share,
        "tokens_by_class": tokens_share,
    }


def _print_report(report: dict[str, Any], by: str) -> None:
    table = Table(by, "outputs", "input", "output", "cache read", "cache write", "cost (USD)")
    for g in report["groups"]:
        cost = f"{g['cost_usd']:.4f}" + (f" (+{g['unpriced_outputs']} unpriced)"
                                         if g["unpriced_outputs"] else "")  # fmt: skip
        table.add_row(g[by], str(g["outputs"]), str(g["input_tokens"]), str(g["output_tokens"]),
                      str(g["cache_read_tokens"]), str(g["cache_write_tokens"]), cost)  # fmt: skip
    Console().print(table)
    share = report["internal_share"]
    tokens = "-" if share["tokens"] is None else f"{share['tokens']:.1%}"
    cost = "-" if share["cost"] is None else f"{share['cost']:.1%}"
    click.echo(
        f"total ${report['cost_usd']:.4f}; internal share: {tokens} of tokens, {cost} of cost"
    )
    if report["unpriced_outputs"]:
        err_console().print(
            f"[yellow]{report['unpriced_outputs']} output(s) have no price (model missing from "
            "the price table): their cost is unknown, not counted above[/yellow]"
        )


COMMANDS = (serve, keys, usage)
