"""What every command module shares: the context object, error handling and progress bars.

Errors are translated here, at the outermost boundary, so that no command ends in a traceback
with exit 1 (which a pipeline reads as "findings"): distillguard's own errors and the
operating system's (a full disk, a permission) are one clear line and exit 2; anything else is
a bug in distillguard, said as such in one line with where it was raised, also exit 2.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

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
from distillguard.errors import DistillguardError, LedgerMissingError
from distillguard.ledger import Ledger
from distillguard.scan.names import shown

USAGE_EXIT = 2


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

    def ledger(self, *, create: bool = False) -> Ledger:
        """The ledger; only commands that record (``create``) make one where there is none."""
        settings = self.settings
        try:
            return Ledger(settings.db_url, create=create)
        except LedgerMissingError as exc:
            raise LedgerMissingError(f"{exc}; {settings.db_origin}") from None


class Group(click.Group):
    """Turns every error but click's own into a clear message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click says these itself, with its own exit codes
        except DistillguardError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(_os_message(exc))
        except Exception as exc:  # the last boundary: a bug must not read as exit 1 (findings)
            _fail(
                f"unexpected {type(exc).__name__} at {_origin(exc)}: {exc} (a bug in distillguard)"
            )


def _fail(message: str) -> NoReturn:
    err_console().print(f"[red]error:[/red] {escape(shown(message))}", highlight=False)
    sys.exit(USAGE_EXIT)


def _os_message(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename is not None else ""
    return f"{where}{exc.strerror or exc}"


def _origin(exc: BaseException) -> str:
    """Where an exception was raised: the innermost frame's file (from ``distillguard/`` on)
    and line."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "an unknown place"
    frame = frames[-1]
    path = frame.filename.replace("\\", "/")
    cut = path.rfind("/distillguard/")
    return f"{path[cut + 1 :] if cut >= 0 else path}:{frame.lineno}"
