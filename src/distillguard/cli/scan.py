"""``distillguard scan``: find recorded outputs in datasets, split them, report, gate."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from distillguard.cli._app import Context, err_console, progress
from distillguard.cli.core import update_index
from distillguard.config import ScanLimits, parse_size
from distillguard.index.store import Manifest
from distillguard.model import Match
from distillguard.policy.dataset import Admission
from distillguard.runner import local_runner
from distillguard.scan.engine import ScanJob, Tally, default_workers, run
from distillguard.scan.formats import Fields, Limits, Unit
from distillguard.scan.gate import coverage, unchecked
from distillguard.scan.matcher import MatchParams
from distillguard.scan.names import shown
from distillguard.scan.outdir import prepare_out_dir
from distillguard.scan.plan import plan
from distillguard.scan.report import report_json, write_report
from distillguard.scan.shards import prepare_resumable, run_sharded


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output dir.")
@click.option(
    "--text-field",
    default=None,
    help="Text field or path of records (a.b, messages[].content). "
    "Default: 'text', else every text of a known chat shape.",
)
@click.option("--id-field", default=None, help="Id field of records (names documents).")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Processes (default: all cores; with --engine ray, every CPU of the cluster).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where to scan: this machine, or a Ray cluster (extra: distillguard[ray]), one "
    "shard (file) per task.",
)
@click.option(
    "--ray-address",
    default=None,
    metavar="ADDR",
    help="With --engine ray: the cluster to join (auto, ray://host:10001); "
    "default: start a local one.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="With --engine ray: keep the shards a previous run into --out completed.",
)
@click.option("--fail-on-findings", is_flag=True, help="Exit 1 when anything is flagged.")
@click.option(
    "--allow-skipped",
    is_flag=True,
    help="Let a gate (--fail-on-findings, --policy) pass although some inputs were skipped.",
)
@click.option(
    "--min-containment",
    type=float,
    default=MatchParams.min_containment,
    show_default=True,
    help="Share of an output's fingerprints needed to flag.",
)
@click.option("--all-vendors", is_flag=True, help="Hunt internal vendors' outputs too.")
@click.option(
    "--max-document-bytes",
    "max_document",
    default=None,
    metavar="SIZE",
    help="Largest document read (bytes, or e.g. 64MiB); larger ones are skipped. "
    "Default: [scan] max_document_bytes, else 64MiB.",
)
@click.option(
    "--max-ratio",
    type=click.IntRange(min=1),
    default=None,
    help="How many times its size a compressed input may inflate to (past one full-size "
    "document) before it is skipped as a bomb. Default: [scan] max_ratio, else 1000.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace clean/, quarantine/ and report.json in --out although distillguard did not "
    "write them.",
)
@click.option(
    "--policy",
    "purpose",
    help="Apply the dataset rules for this purpose (training, ...); exit 1 on a violation.",
)
@click.pass_obj
def scan(
    obj: Context,
    paths: tuple[str, ...],
    out: str,
    text_field: str | None,
    id_field: str | None,
    workers: int | None,
    engine: str,
    ray_address: str | None,
    resume: bool,
    fail_on_findings: bool,
    allow_skipped: bool,
    min_containment: float,
    all_vendors: bool,
    max_document: str | None,
    max_ratio: int | None,
    overwrite: bool,
    purpose: str | None,
) -> None:
    """Find recorded outputs in PATHs; split them into clean/ and quarantine/ under --out.

    As a gate (--fail-on-findings, --policy) it fails closed: exit 1 on findings or a
    violation; exit 2 when it read no document, skipped inputs (unless --allow-skipped) or had
    no outputs to match against.
    """
    limits = _limits(obj.settings.scan_limits, max_document, max_ratio)
    _check_engine(engine, ray_address, resume)
    started = time.perf_counter()
    admission = Admission.of(obj.settings, purpose) if purpose else None
    out_dir = Path(out)
    units, skipped = plan(list(paths), exclude=out_dir)
    update_index(obj, workers or default_workers(), for_reading=True)
    manifest = Manifest.read(obj.settings.index_dir)
    vendors = frozenset(
        v
        for v in manifest.vendors
        if all_vendors or obj.settings.is_external(v) or (admission and admission.hunts(v))
    )
    params = MatchParams(min_containment=min_containment)
    fields = Fields(text_field, id_field, limits)
    job = ScanJob(obj.settings.index_dir, out_dir, vendors, fields, params)
    if engine == "ray":
        prepare_resumable(out_dir, resume=resume, overwrite=overwrite)
        tally, workers = _scan_on_ray(job, units, workers, ray_address, resume)
    else:
        prepare_out_dir(out_dir, overwrite=overwrite)
        workers = workers or default_workers()
        with progress("scanning", sum(u.size for u in units), as_bytes=True) as advance:
            tally = run(job, units, local_runner(workers), advance)
    tally.skipped[:0] = skipped
    seconds = time.perf_counter() - started
    gated = fail_on_findings or admission is not None
    reasons = unchecked(
        coverage(tally, len(vendors), manifest.outputs), allow_skipped=allow_skipped
    )
    extra: dict[str, object] = {
        "index": {"outputs": manifest.outputs, "fingerprint_config": manifest.fp_config},
        "vendors": sorted(vendors),
        "workers": workers,
        "limits": {"max_document_bytes": limits.document_bytes, "max_ratio": limits.ratio},
        "unchecked": reasons,
    }
    violations = admission.violations(tally.findings) if admission else []
    if admission:
        extra["policy"] = admission.as_json(violations)
    path = write_report(out_dir, report_json(tally, seconds, extra))
    _summary(tally, seconds, path)
    if admission:
        for line in map(admission.describe, violations):
            err_console().print(f"[red]violation[/red] {escape(shown(line))}", highlight=False)
    _exit(gated, violations or (fail_on_findings and tally.flagged), reasons)


def _check_engine(engine: str, ray_address: str | None, resume: bool) -> None:
    if engine != "ray" and (ray_address or resume):
        flag = "--ray-address" if ray_address else "--resume"
        raise click.UsageError(f"{flag} needs --engine ray")


def _scan_on_ray(
    job: ScanJob, units: list[Unit], workers: int | None, address: str | None, resume: bool
) -> tuple[Tally, int]:
    """The sharded scan on Ray; says how long the cluster took to start and what was reused."""
    from distillguard.runner.ray import RayRunner

    runner = RayRunner(workers, address)
    with progress("scanning", sum(u.size for u in units), as_bytes=True) as advance:
        tally, reused = run_sharded(job, units, runner, advance, resume=resume)
    console = err_console()
    console.print(f"ray: {runner.workers} workers, started in {runner.startup_seconds:.1f}s")
    if resume:
        console.print(f"resumed: {reused} of {len(units)} shards were already complete")
    return tally, runner.workers


def _limits(config: ScanLimits, max_document: str | None, max_ratio: int | None) -> Limits:
    """The scan's limits: its flags, else the config's ``[scan]``, else the defaults."""
    document = config.max_document_bytes
    if max_document is not None:
        try:
            document = parse_size(max_document)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--max-document-bytes") from exc
    return Limits(document, config.max_ratio if max_ratio is None else max_ratio)


def _exit(gated: bool, failed: object, reasons: list[str]) -> None:
    """Exit 1 on findings/violations of a gate; 2 when a gate checked too little; else 0
    (a plain scan only warns)."""
    label = "[red]gate failed:[/red]" if gated else "[yellow]warning:[/yellow]"
    for reason in reasons:
        err_console().print(f"{label} {escape(reason)}", highlight=False)
    if gated and failed:
        sys.exit(1)
    if gated and reasons:
        sys.exit(2)


def _summary(tally: Tally, seconds: float, report: Path) -> None:
    console = Console()
    mb = tally.bytes / 1e6
    console.print(
        f"scanned {tally.documents} documents ({mb:.1f} MB) in {seconds:.1f}s "
        f"({mb / max(seconds, 1e-9):.1f} MB/s): [bold]{tally.flagged} flagged[/bold], "
        f"{tally.skipped_count} skipped",
        highlight=False,
    )
    if tally.findings:
        _findings_table(console, tally)
    for item in tally.skipped[:5]:
        console.print(escape(f"skipped {shown(item.path)}: {shown(item.reason)}"), highlight=False)
    if tally.skipped_count > 5:
        console.print(f"... and {tally.skipped_count - 5} more skipped", highlight=False)
    console.print(f"report: {report}", highlight=False)


def _findings_table(console: Console, tally: Tally) -> None:
    table = Table(box=None)
    for name in ("document", "output", "vendor/model", "containment"):
        table.add_column(name, overflow="fold")
    for finding in tally.findings[:10]:
        best = finding.matches[0]
        where = shown(finding.doc) + (f" [{best.field}]" if best.field else "")
        table.add_row(escape(where), best.output_id, f"{best.vendor}/{best.model}", _share(best))
    console.print(table)
    if len(tally.findings) > 10:
        console.print(f"... and {len(tally.findings) - 10} more")


def _share(match: Match) -> str:
    """Containment over the whole output, and the best part found on its own (if any): a
    function out of a long answer shows as ``0.12, part 3 lines 14-31: 1.00``."""
    text = f"{match.containment:.2f}"
    if match.parts:
        part = max(match.parts, key=lambda p: p.containment)
        first, last = part.lines
        text += f", part {part.index} lines {first}-{last}: {part.containment:.2f}"
    return text


COMMANDS = (scan,)
