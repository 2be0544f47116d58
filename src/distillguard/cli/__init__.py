"""The ``distillguard`` command line: thin over the library.

Exit codes: 0 success; 1 the check failed (findings with ``--fail-on-findings``, a ledger that
does not verify, a policy violation); 2 a usage, configuration or input error, or an unexpected
error (said in one line).

Each module of this package holds the commands of one area and lists them in ``COMMANDS``;
``main`` registers them all.
"""

from __future__ import annotations

from types import ModuleType

import click

from distillguard import __version__
from distillguard.cli import agents, core, costs, gateway, git, scan
from distillguard.cli._app import Context, Group


@click.group(cls=Group)
@click.version_option(__version__, prog_name="distillguard")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="Config file (TOML).")
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """Capture outside-model output and keep it out of training data."""
    ctx.obj = Context(config)


def _register(*modules: ModuleType) -> None:
    for module in modules:
        for command in module.COMMANDS:
            main.add_command(command)


_register(core, scan, git, gateway, costs, agents)
