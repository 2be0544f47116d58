"""A runner for tests: runs calls in this process, but not in the order given.

``FakeRunner`` draws ``ahead`` arguments, then runs them last first, and records every
argument it ran (``calls``): a caller that relied on calls running in order, or on one call
seeing another's side effects in this process, fails against it. ``fail_at`` makes the n-th
call (0-based) raise ``error`` instead of running, as a worker lost mid-run would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from types import TracebackType
from typing import Any, TypeVar

A = TypeVar("A")
R = TypeVar("R")


class FakeRunner:
    """Runs calls inline, each group of ``ahead`` in reverse order."""

    def __init__(
        self,
        workers: int = 2,
        ahead: int = 3,
        fail_at: int | None = None,
        error: Exception | None = None,
    ) -> None:
        self.workers = workers
        self.ahead = ahead
        self.fail_at = fail_at
        self.error = error or RuntimeError("FakeRunner: a worker was lost")
        self.calls: list[Any] = []
        self.entered = self.exited = 0

    def map(self, fn: Callable[[A], R], args: Iterable[A]) -> Iterator[R]:
        it = iter(args)
        while group := list(islice(it, self.ahead)):
            results = {i: self._call(fn, arg) for i, arg in reversed(list(enumerate(group)))}
            yield from (results[i] for i in range(len(group)))

    def _call(self, fn: Callable[[A], R], arg: A) -> R:
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise self.error
        self.calls.append(arg)
        return fn(arg)

    def __enter__(self) -> FakeRunner:
        self.entered += 1
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.exited += 1
