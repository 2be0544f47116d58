"""Coding agents: ``install claude-code|codex``, ``import claude-code|codex DIR``, ``hook``.

``install claude-code`` and ``install codex`` join the ``install`` group of
:mod:`distillguard.cli.git`; the hidden ``hook AGENT`` runs what the installed hooks run
(they call ``python -m distillguard.capture.hooks AGENT`` directly, which starts faster).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from distillguard.capture.git.repo import Git
from distillguard.capture.hooks import install as hooks
from distillguard.capture.hooks.run import main as run_hook
from distillguard.capture.transcripts.importer import (
    AGENTS,
    ImportReport,
    import_files,
    transcript_files,
)
from distillguard.capture.transcripts.records import Context as ImportContext
from distillguard.capture.wire import prices as pricing
from distillguard.cli._app import Context, err_console, progress
from distillguard.cli.git import install
from distillguard.errors import GitError

SCOPES = ("user", "project")
SHOWN_PROBLEMS = 20


def _project_root() -> Path:
    try:
        return Git().root
    except GitError:
        return Path.cwd()


def _command(obj: Context, agent: str, edits_only: bool) -> str:
    """The hook's command, with this ledger's home (the default one too) baked in."""
    env = {**os.environ, "DISTILLGUARD_HOME": str(obj.settings.home)}
    return hooks.hook_command(agent, env=env, edits_only=edits_only)


@click.command("claude-code")
@click.option("--scope", type=click.Choice(SCOPES), default="user", show_default=True,
              help="user: ~/.claude/settings.json ($CLAUDE_CONFIG_DIR); "
              "project: the repository's .claude/settings.json.")  # fmt: skip
@click.option("--timeout", type=int, default=hooks.TIMEOUT, show_default=True,
              help="Seconds Claude Code gives the hook.")  # fmt: skip
@click.option("--edits-only", is_flag=True,
              help="Record only the edits: the agent goes through distillguard serve, whose "
              "record of each answer (actor, team, key, cost) is kept.")  # fmt: skip
@click.pass_obj
def install_claude_code(obj: Context, scope: str, timeout: int, edits_only: bool) -> None:
    """Record every file edit Claude Code makes (a PostToolUse hook on Write|Edit|...)."""
    path = hooks.claude_settings_file(scope, _project_root())
    done = hooks.install_claude_code(path, _command(obj, "claude-code", edits_only), timeout)
    click.echo(f"installed the claude-code PostToolUse hook ({hooks.CLAUDE_MATCHER}): {done.path}")


@click.command("codex")
@click.option("--scope", type=click.Choice(SCOPES), default="user", show_default=True,
              help="user: ~/.codex/hooks.json ($CODEX_HOME); "
              "project: the repository's .codex/hooks.json.")  # fmt: skip
@click.option("--timeout", type=int, default=hooks.TIMEOUT, show_default=True,
              help="Seconds Codex gives the hook.")  # fmt: skip
@click.option("--edits-only", is_flag=True,
              help="Record only the edits: the agent goes through distillguard serve, whose "
              "record of each answer (actor, team, key, cost) is kept.")  # fmt: skip
@click.pass_obj
def install_codex(obj: Context, scope: str, timeout: int, edits_only: bool) -> None:
    """Record every apply_patch Codex makes (a PostToolUse hook, trusted in config.toml)."""
    hooks_file, config = hooks.codex_files(scope, _project_root())
    done = hooks.install_codex(hooks_file, config, _command(obj, "codex", edits_only), timeout)
    click.echo(f"installed the codex PostToolUse hook ({hooks.CODEX_MATCHER}): {done.path}")
    click.echo(f"trusted it in {done.trust}")
    if scope == "project":
        click.echo("Codex loads a project's .codex/ only when the project is trusted.")


install.add_command(install_claude_code)
install.add_command(install_codex)


@click.group("import")
def import_() -> None:
    """Import what coding agents already did, from their own transcripts."""


def _import(obj: Context, agent: str, directory: str, vendor: str | None,
            actor: str | None, team: str | None, strict: bool = False) -> None:  # fmt: skip
    spec = AGENTS[agent]
    files = transcript_files(spec, Path(directory).expanduser())
    prices = pricing.load(obj.settings.prices_path)
    ctx = ImportContext(vendor or spec.vendor, agent, actor, team, prices)
    with obj.ledger(create=True) as ledger, progress(f"importing {agent}", len(files)) as advance:
        report = import_files(ledger, files, spec.read, ctx, advance)
    _print_report(agent, report)
    if strict and report.problems:
        sys.exit(2)


def _print_report(agent: str, report: ImportReport) -> None:
    click.echo(
        f"{agent}: {report.files} transcript(s), {report.answers} answer(s): "
        f"{report.outputs_new} new output(s), {report.edits_new} new edit(s)"
    )
    if not report.problems:
        return
    console = err_console()
    console.print(f"{len(report.problems)} line(s) or file(s) skipped:", highlight=False)
    for problem in report.problems[:SHOWN_PROBLEMS]:
        console.print(f"  {problem.where}: {problem.reason}", highlight=False, markup=False)
    if len(report.problems) > SHOWN_PROBLEMS:
        console.print(f"  ... and {len(report.problems) - SHOWN_PROBLEMS} more", highlight=False)


def _import_command(agent: str, default_dir: str) -> click.Command:
    @click.command(agent)
    @click.argument("directory", default=default_dir)
    @click.option("--vendor", help=f"Record under this vendor (default {AGENTS[agent].vendor}).")
    @click.option("--actor", help="Who the outputs are recorded under.")
    @click.option("--team", help="The team they are recorded under.")
    @click.option("--strict", is_flag=True, help="Exit 2 when any line or file was skipped.")
    @click.pass_obj
    def command(obj: Context, directory: str, vendor: str | None, actor: str | None,
                team: str | None, strict: bool) -> None:  # fmt: skip
        _import(obj, agent, directory, vendor, actor, team, strict)

    command.help = (
        f"Import {agent}'s transcripts under DIRECTORY (default {default_dir}): every answer "
        "as an output (keyed by the vendor's message id: importing twice, or what the gateway "
        "recorded, adds nothing) and every file edit. A line that cannot be used (or that the "
        "ledger refuses) is listed on stderr as file:line and skipped; the rest is recorded "
        "and the exit code is 0, or 2 with --strict."
    )
    return command


import_.add_command(_import_command("claude-code", "~/.claude/projects"))
import_.add_command(_import_command("codex", "~/.codex/sessions"))


@click.command("hook", hidden=True, context_settings={"ignore_unknown_options": True})
@click.argument("agent", type=click.Choice(sorted(AGENTS)))
def hook(agent: str) -> None:
    """What the installed agent hooks run (reads the hook's JSON on stdin; always exits 0)."""
    sys.exit(run_hook([agent]))


COMMANDS = (import_, hook)
