"""The runner interface: where batches run.

A ``Runner`` applies one function to a stream of arguments somewhere (this process, local
processes, a Ray cluster) and gives the results back in the arguments' order. It draws the
arguments lazily and keeps only a bounded number in flight, so a caller streaming a large input
holds a few batches at a time, never the input. The function and its arguments must be
picklable for every runner but ``InlineRunner``: a module-level function, or a
``functools.partial`` of one.

A runner is a context manager; leaving it releases what it started (processes, actors, a
cluster it brought up itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Protocol, TypeVar

from distillguard.errors import DistillguardError

A = TypeVar("A")
R = TypeVar("R")


class RunnerError(DistillguardError):
    """A runner could not start or lost its workers for good (a Ray cluster unreachable)."""


class Runner(Protocol):
    """Runs ``fn`` over arguments on ``workers`` workers, results in order."""

    @property
    def workers(self) -> int: ...

    def map(self, fn: Callable[[A], R], args: Iterable[A]) -> Iterator[R]:
        """``fn(a)`` for each ``a`` of ``args``, in order; an error of ``fn`` is raised here."""
        ...

    def __enter__(self) -> Runner: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
