"""What every command module shares: the context object, error handling and progress bars."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from distillguard.config import Settings, load_settings
from distillguard.errors import DistillguardError
from distillguard.ledger import Ledger


def err_console() -> Console:
    return Console(stderr=True)


@contextmanager
def progress(label: str, total: int, *, as_bytes: bool = False) -> Iterator[Any]:
    """A progress bar on stderr (only on a terminal); yields ``advance(n)``."""
    count = [DownloadColumn(), TransferSpeedColumn()] if as_bytes else [MofNCompleteColumn()]
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        *count,
        TimeRemainingColumn(),
        console=err_console(),
        transient=True,
        disable=not sys.stderr.isatty(),
    )
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


class Context:
    def __init__(self, config: str | None) -> None:
        self._config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self._config)
        return self._settings

    def ledger(self) -> Ledger:
        return Ledger(self.settings.db_url)


class Group(click.Group):
    """Turns distillguard's own errors into a clear message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DistillguardError as exc:
            err_console().print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            sys.exit(2)
