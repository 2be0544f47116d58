"""The core commands: record, ledger, index, scan and config."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import click

from distillguard.capture.manual import BadLine, parse_jsonl
from distillguard.cli._app import Context, err_console, progress
from distillguard.fingerprint import FingerprintConfig, settings_for
from distillguard.index.build import IndexBuilder
from distillguard.index.sets import privacy_form
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
    with obj.ledger() as ledger:
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


def _good_lines(
    items: Iterator[NewOutput | BadLine], bad: list[BadLine], config: FingerprintConfig | None
) -> Iterator[NewOutput]:
    """The valid outputs, streamed (as fingerprints only with ``config``); bad lines are set
    aside in ``bad``."""
    for item in items:
        if isinstance(item, BadLine):
            bad.append(item)
        else:
            yield privacy_form(item, config) if config else item


def _record_jsonl(obj: Context, fh: Any, private: bool) -> None:
    bad: list[BadLine] = []
    with obj.ledger() as ledger:
        config = settings_for(ledger.stored_fp_configs()) if private else None
        results = ledger.record_many(_good_lines(parse_jsonl(fh, _name(fh)), bad, config))
    created = sum(r.created for r in results)
    err = err_console()
    for line in bad:
        err.print(f"[yellow]skipped[/yellow] {line.where}: {line.reason}", highlight=False)
    err.print(
        f"recorded {created} new, {len(results) - created} already known, {len(bad)} bad lines"
    )
    if bad:
        sys.exit(2)


# --- ledger ---------------------------------------------------------------------------------


@click.group()
def ledger() -> None:
    """Inspect and verify the tamper-evident ledger."""


@ledger.command("verify")
@click.option("--expect-head", help="A head printed earlier: also detects a cut-off tail.")
@click.pass_obj
def ledger_verify(obj: Context, expect_head: str | None) -> None:
    """Recompute the hash chain; exit 1 if any record was altered, removed or reordered."""
    with obj.ledger() as led:
        report = led.verify(expect_head=expect_head)
    for problem in report.problems:
        click.echo(f"FAIL {problem}")
    status = "ok" if report.ok else "TAMPERED"
    click.echo(f"{status}: {report.records} records, head {report.head}")
    sys.exit(0 if report.ok else 1)


@ledger.command("head")
@click.pass_obj
def ledger_head(obj: Context) -> None:
    """Print the chain head, to anchor it elsewhere."""
    with obj.ledger() as led:
        click.echo(led.head())


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
    """Explain every error in the config file; exit 2 if there is one."""
    settings = obj.settings
    where = settings.config_path or "no config file (defaults: every vendor external)"
    click.echo(f"ok: {where}")
    for name, cls in sorted(settings.vendor_classes.items()):
        click.echo(f"  vendor {name}: {cls}")


COMMANDS = (record, ledger, index, config)
