"""The core commands: record, ledger, index, scan and config."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from distillguard import signing
from distillguard.capture.manual import read_jsonl, record_jsonl
from distillguard.capture.wire import prices
from distillguard.cli._app import Context, err_console, progress
from distillguard.config import Settings, vendor_warnings
from distillguard.errors import ConfigError, SignatureError
from distillguard.fingerprint import settings_for
from distillguard.index.build import IndexBuilder
from distillguard.index.sets import privacy_form
from distillguard.ledger import anchor
from distillguard.model import NewOutput
from distillguard.scan.engine import default_workers

# --- record ---------------------------------------------------------------------------------


@click.command()
@click.argument("file", required=False, type=click.File("rb"))
@click.option("--jsonl", "jsonl", type=click.File("rb"), help="Record one output per JSON line.")
@click.option("--vendor", help="Vendor that produced the output (e.g. anthropic).")
@click.option("--model", help="Model that produced it.")
@click.option("--tool", help="Tool it came through (claude-code, codex, chat...).")
@click.option("--actor", help="Who used it.")
@click.option("--team", help="Their team.")
@click.option("--session", help="The tool's session id.")
@click.option("--purpose", help="What it was for.")
@click.option("--source-id", help="Where it came from (makes distinct copies distinct).")
@click.option("--message-id", help="The vendor's message/response id (idempotency key).")
@click.option("--request", "request", type=click.File("rb"), help="What the model was given.")
@click.option(
    "--fingerprints-only",
    is_flag=True,
    help="Privacy mode: keep the fingerprints and a content hash, not the text.",
)
@click.pass_obj
def record(
    obj: Context, /, file: Any, jsonl: Any, request: Any, fingerprints_only: bool, **fields: Any
) -> None:
    """Record an output (FILE or - for stdin); prints its id. Idempotent."""
    private = fingerprints_only or obj.settings.fingerprints_only
    if jsonl is not None:
        _record_jsonl(obj, jsonl, private)
        return
    if file is None:
        raise click.UsageError("give FILE (or - for stdin), or --jsonl FILE")
    if not fields["vendor"] or not fields["model"]:
        raise click.UsageError("--vendor and --model are required")
    new = NewOutput(
        text=_decode(file.read(), _name(file)),
        request=_decode(request.read(), _name(request)) if request else None,
        **fields,
    )
    with obj.ledger(create=True) as ledger:
        if private:
            new = privacy_form(new, settings_for(ledger.stored_fp_configs()))
        click.echo(ledger.record(new).id)


def _name(fh: Any) -> str:
    return str(getattr(fh, "name", "<stdin>"))


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{name}: invalid UTF-8 at byte {exc.start}") from exc


def _record_jsonl(obj: Context, fh: Any, private: bool) -> None:
    """Record every usable line; list each skipped one (file:line: why) on stderr and exit 2
    when any was skipped (the others are recorded: rerunning is idempotent)."""
    with obj.ledger(create=True) as ledger:
        config = settings_for(ledger.stored_fp_configs()) if private else None
        form = (lambda new: privacy_form(new, config)) if config else None
        done = record_jsonl(ledger, read_jsonl(fh, _name(fh)), form)
    err = err_console()
    for line in done.bad:
        err.print(f"[yellow]skipped[/yellow] {escape(line.where)}: {escape(line.reason)}",
                  highlight=False)  # fmt: skip
    err.print(f"recorded {done.created} new, {done.known} already known, {len(done.bad)} bad lines")
    if done.bad:
        sys.exit(2)


# --- ledger ---------------------------------------------------------------------------------


@click.group()
def ledger() -> None:
    """Inspect and verify the tamper-evident ledger."""


@ledger.command("verify")
@click.option(
    "--expect-head",
    metavar="HEAD|FILE",
    help="A head printed earlier, or a file holding one or a signed head statement: also "
    "detects a cut-off or rewritten tail.",
)
@click.option(
    "--pub",
    metavar="PUBLIC.pem",
    type=click.Path(exists=True, dir_okay=False),
    help="ed25519 public key that must have signed the --expect-head statement.",
)
@click.pass_obj
def ledger_verify(obj: Context, expect_head: str | None, pub: str | None) -> None:
    """Recompute the hash chains and hold edits and keys against the journal; exit 1 if any
    record was altered, removed or reordered."""
    expected = _expected_head(expect_head, pub)
    with obj.ledger() as led:
        report = led.verify(expect_head=expected)
    for problem in report.problems:
        click.echo(f"FAIL {problem}")
    status = "ok" if report.ok else "TAMPERED"
    click.echo(
        f"{status}: {report.records} records, {report.journal} journal entries, head {report.head}"
    )
    sys.exit(0 if report.ok else 1)


def _expected_head(value: str | None, pub: str | None) -> anchor.Head | None:
    """The head to verify against; a signed one that does not verify exits 1."""
    if value is None:
        if pub is not None:
            raise click.UsageError("--pub checks the signed statement given as --expect-head")
        return None
    try:
        return anchor.expected_head(value, pub)
    except SignatureError as exc:
        click.echo(f"FAIL the signed head: {exc}")
        click.echo("TAMPERED: the expected head is not signed by that key (or was altered)")
        sys.exit(1)


@ledger.command("head")
@click.option(
    "--sign",
    "key",
    metavar="PRIVATE.pem",
    type=click.Path(exists=True, dir_okay=False),
    help="Print a signed head statement instead (an in-toto Statement in a DSSE envelope), "
    "signed with this ed25519 key.",
)
@click.option(
    "--output", type=click.Path(dir_okay=False), help="Write it to this file instead of stdout."
)
@click.pass_obj
def ledger_head(obj: Context, key: str | None, output: str | None) -> None:
    """Print the chain head, to anchor it elsewhere (a git tag, an attestation, a partner)."""
    with obj.ledger() as led:
        head = led.head()
    if key is not None:
        statement = anchor.statement(anchor.parse_head(head), datetime.now(UTC))
        head = json.dumps(signing.sign(statement, key), indent=2)
    if output is None:
        click.echo(head)
        return
    try:
        Path(output).write_text(head + "\n", encoding="utf-8")
    except OSError as exc:
        raise click.FileError(output, hint=exc.strerror or str(exc)) from exc


# --- index ----------------------------------------------------------------------------------


@click.group()
def index() -> None:
    """Build the fingerprint index from the ledger."""


@index.command("build")
@click.option("--rebuild", is_flag=True, help="Rebuild from scratch instead of updating.")
@click.option(
    "--background",
    multiple=True,
    type=click.Path(exists=True),
    help="Files or directories of common text/code whose fingerprints never count as evidence.",
)
@click.option("--workers", type=int, default=None, help="Processes (default: all cores).")
@click.pass_obj
def index_build(
    obj: Context, rebuild: bool, background: tuple[str, ...], workers: int | None
) -> None:
    """Build (or update) the index of recorded outputs."""
    stats = update_index(obj, workers or default_workers(), rebuild=rebuild, background=background)
    verb = "built" if stats.rebuilt else "updated"
    click.echo(
        f"index {verb}: {stats.outputs} outputs, {stats.fingerprints} fingerprints, "
        f"{stats.stopped} suppressed, {stats.segments} segment(s)"
    )


def update_index(
    obj: Context,
    workers: int,
    *,
    rebuild: bool = False,
    background: tuple[str, ...] = (),
    for_reading: bool = False,
) -> Any:
    """Build or update the index; ``for_reading`` (a scan): rebuilt if made with older
    fingerprint settings, instead of refusing to mix them."""
    settings = obj.settings
    with obj.ledger() as led:
        builder = IndexBuilder(led, settings.index_dir, workers=workers)
        with progress("fingerprinting outputs", builder.pending()) as advance:
            builder.progress = advance
            if rebuild:
                return builder.build(background)
            return builder.update(background, replace_other_settings=for_reading)


# --- config ---------------------------------------------------------------------------------


@click.group()
def config() -> None:
    """Check the configuration file."""


@config.command("validate")
@click.pass_obj
def config_validate(obj: Context) -> None:
    """Explain every error in the config file and its price table (exit 2 if there is one);
    warn of vendor names that nothing configured knows (exit 0 with warnings only)."""
    settings = obj.settings
    known = {vendor for table in _price_tables(settings) for vendor in table.prices}
    warnings = vendor_warnings(settings, known)
    err = err_console()
    for warning in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    where = settings.config_path or "no config file (defaults: every vendor external)"
    click.echo(f"ok: {where}" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    for name, cls in sorted(settings.vendor_classes.items()):
        click.echo(f"  vendor {name}: {cls}")


def _price_tables(settings: Settings) -> list[prices.PriceTable]:
    """The packaged price table and the config's own (read now, as ``serve`` would)."""
    tables = [prices.load()]
    if settings.prices_path is not None:
        try:
            tables.append(prices.load(settings.prices_path))
        except ConfigError as exc:
            raise ConfigError(f"{settings.config_path}: [gateway] prices: {exc}") from exc
    return tables


COMMANDS = (record, ledger, index, config)
