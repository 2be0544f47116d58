"""The gateway's commands: serve and keys (create, list, revoke); usage is in :mod:`.costs`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import click
from rich.console import Console
from rich.table import Table

from distillguard.cli._app import Context


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
    with obj.ledger(create=True) as ledger:  # the first step of setting up a gateway
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


COMMANDS = (serve, keys)
