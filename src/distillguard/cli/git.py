"""Git commands: attribute, blame, stats, check, and the ``install`` group (``install git``).

``install`` is a group other modules extend: ``from distillguard.cli.git import install`` then
``install.add_command(cmd)`` (e.g. ``install claude-code``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

import click
from rich.console import Console
from rich.table import Table

from distillguard.capture.git.attribute import Attributor
from distillguard.capture.git.blame import blame as blame_file
from distillguard.capture.git.hooks import install_hooks
from distillguard.capture.git.notes import Attributions
from distillguard.capture.git.repo import Git
from distillguard.capture.git.session import attribute_commits, open_attributor
from distillguard.capture.git.stats import GROUPINGS
from distillguard.capture.git.stats import stats as stats_rows
from distillguard.cli._app import Context, err_console
from distillguard.errors import GitError
from distillguard.policy import Policy, Violation, check_attribution, policy_at
from distillguard.policy.check import is_reviewed
from distillguard.policy.report import FORMATS, render


@contextmanager
def _attributions(obj: Context, git: Git) -> Iterator[Attributions]:
    with obj.ledger() as ledger:
        yield Attributions(open_attributor(git, obj.settings, ledger))


# --- attribute ------------------------------------------------------------------------------


@click.command()
@click.argument("revs", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the attributions as JSON.")
@click.pass_obj
def attribute(obj: Context, revs: tuple[str, ...], as_json: bool) -> None:
    """Attribute the lines REVS (default HEAD) added; write notes on refs/notes/distillguard."""
    git = Git()
    shas = [git.resolve(r) for r in revs or ("HEAD",)]
    with obj.ledger() as ledger:
        done = attribute_commits(open_attributor(git, obj.settings, ledger), shas)
    if as_json:
        click.echo(json.dumps([asdict(a) for a in done], indent=1))
        return
    for att in done:
        agents = ", ".join(c.trailer for c in att.coauthors)
        click.echo(
            f"{att.revision[:12]}: {att.attributed} of {att.added} added lines from outside output"
            + (f"; AI co-author: {agents}" if agents else "")
        )
        for f in att.files:
            for c in f.contributions:
                spans = ", ".join(f"{s}-{e}" for s, e in c.ranges)
                click.echo(f"  {f.path}:{spans} {c.vendor}/{c.model} {c.output_id}")


# --- blame ----------------------------------------------------------------------------------


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def blame(obj: Context, file: str, as_json: bool) -> None:
    """Which lines of FILE came from which outside output (vendor, model, output, commit)."""
    git = Git()
    rel = os.path.relpath(os.path.realpath(file), os.path.realpath(git.root))
    if rel.startswith(".."):
        raise click.BadParameter(f"{file} is outside the repository {git.root}")
    with _attributions(obj, git) as atts:
        runs, total = blame_file(atts, rel)
    if as_json:
        click.echo(json.dumps({"path": rel, "lines": total, "runs": [asdict(r) for r in runs]}))
        return
    table = Table(box=None)
    for name in ("lines", "commit", "vendor/model", "output", "containment"):
        table.add_column(name)
    for r in runs:
        table.add_row(
            f"{r.start_line}-{r.end_line}",
            r.commit[:12],
            f"{r.vendor}/{r.model}",
            r.output_id,
            f"{r.containment:.2f}",
        )
    outside = sum(r.end_line - r.start_line + 1 for r in runs)
    console = Console()
    if runs:
        console.print(table)
    console.print(f"{rel}: {outside} of {total} lines from outside output", markup=False)


# --- stats ----------------------------------------------------------------------------------


@click.command()
@click.argument("rev", default="HEAD")
@click.option("--by", type=click.Choice(GROUPINGS), default="repo", show_default=True)
@click.option("--depth", type=int, default=0, help="With --by path: group by the first N parts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def stats(obj: Context, rev: str, by: str, depth: int, as_json: bool) -> None:
    """Share of added lines from outside models in REV's history (default HEAD)."""
    git = Git()
    with _attributions(obj, git) as atts:
        rows = stats_rows((atts.get(sha) for sha in git.rev_list(rev)), by, depth)
    if as_json:
        click.echo(json.dumps([{**asdict(r), "share": round(r.share, 4)} for r in rows]))
        return
    table = Table(box=None)
    for name in (by, "commits", "added lines", "from outside", "share"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(r.key, str(r.commits), str(r.added), str(r.outside), f"{r.share:.1%}")
    Console().print(table)


# --- check ----------------------------------------------------------------------------------


@click.command()
@click.option("--range", "spec", help="BASE..HEAD: the commits to check (CI).")
@click.option("--staged", is_flag=True, help="Check what is staged for the next commit.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "out", type=click.Path(dir_okay=False), help="Write the report here.")
@click.pass_context
def check(ctx: click.Context, spec: str | None, staged: bool, fmt: str, out: str | None) -> None:
    """Exit 1 when a change breaks a rule (rules read from BASE, or HEAD for --staged)."""
    if bool(spec) == staged:
        raise click.UsageError("give exactly one of --range BASE..HEAD and --staged")
    obj: Context = ctx.obj
    git = Git()
    explicit = bool(ctx.find_root().params.get("config") or os.environ.get("DISTILLGUARD_CONFIG"))
    base, shas = _targets(git, spec)
    policy = policy_at(git, base, obj.settings, explicit)
    with _attributions(obj, git) as atts:
        violations = (
            _check_staged(atts.attributor, policy) if staged else _check_range(atts, shas, policy)
        )
    summary = {
        "commits": len(shas) if not staged else 0,
        "staged": staged,
        "rules": len(policy.git_rules()),
        "policy": policy.source,
        "recomputed": len(atts.recomputed),
    }
    report = render(fmt, violations, policy.git_rules(), summary)
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(report + "\n")
        err_console().print(f"{len(violations)} violation(s); report: {out}", highlight=False)
    else:
        click.echo(report)
    sys.exit(1 if violations else 0)


def _targets(git: Git, spec: str | None) -> tuple[str | None, list[str]]:
    """The revision to read rules from, and the commits to check (oldest first)."""
    if spec is None:  # --staged: rules from HEAD
        return (git.resolve("HEAD") if git.has_head() else None), []
    if "..." in spec:
        raise click.BadParameter("use BASE..HEAD (two dots)", param_hint="--range")
    base_rev, sep, head_rev = spec.partition("..")
    if not sep or not base_rev:
        raise click.BadParameter(f"{spec!r}: expected BASE..HEAD", param_hint="--range")
    try:
        base = git.resolve(base_rev)
        head = git.resolve(head_rev or "HEAD")
    except GitError as exc:
        raise click.BadParameter(str(exc), param_hint="--range") from exc
    return base, git.rev_list(f"{base}..{head}")


def _check_range(atts: Attributions, shas: list[str], policy: Policy) -> list[Violation]:
    git = atts.attributor.git
    found: list[Violation] = []
    for sha in shas:
        info = git.commit(sha)
        reviewed = is_reviewed(git, sha, info.message, (info.author_name, info.author_email))
        found.extend(check_attribution(atts.get(sha), policy, reviewed))
    return found


def _check_staged(attributor: Attributor, policy: Policy) -> list[Violation]:
    """Before the commit exists there is no review to see: review rules are left to CI."""
    return check_attribution(attributor.staged(), policy, reviewed=True)


# --- install --------------------------------------------------------------------------------


@click.group()
def install() -> None:
    """Wire distillguard into git (and, with other modules, into coding agents)."""


@install.command("git")
def install_git() -> None:
    """Add post-commit and post-rewrite hooks that attribute new and rewritten commits."""
    for done in install_hooks(Git()):
        kept = f" (runs the previous hook {done.chained.name} first)" if done.chained else ""
        click.echo(f"installed {done.hook}: {done.path}{kept}")


COMMANDS = (attribute, blame, stats, check, install)
