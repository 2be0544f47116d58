"""Runners on this machine: inline (one worker, no pool to pay for) and local processes.

``ProcessRunner`` keeps ``ahead`` calls in flight (twice its workers by default), so each
worker has one call running and one queued while this process handles the results. Worker
processes live as long as the runner: what a function caches per process (an open index, a
matcher) is built once per worker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import TypeVar

A = TypeVar("A")
R = TypeVar("R")


class InlineRunner:
    """Runs every call at once, in this process."""

    workers = 1

    def map(self, fn: Callable[[A], R], args: Iterable[A]) -> Iterator[R]:
        return map(fn, args)

    def __enter__(self) -> InlineRunner:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class ProcessRunner:
    """Runs calls on ``workers`` local processes, up to ``ahead`` in flight."""

    def __init__(self, workers: int, ahead: int | None = None) -> None:
        self.workers = max(1, workers)
        self.ahead = ahead or 2 * self.workers
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[A], R], args: Iterable[A]) -> Iterator[R]:
        pool = self._started()
        flight: deque[Future[R]] = deque()
        for arg in args:
            flight.append(pool.submit(fn, arg))
            if len(flight) >= self.ahead:
                yield flight.popleft().result()
        while flight:
            yield flight.popleft().result()

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers)
        return self._pool

    def __enter__(self) -> ProcessRunner:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=kind is not None)
            self._pool = None


def local_runner(workers: int) -> InlineRunner | ProcessRunner:
    """Inline for one worker, else a process pool."""
    return InlineRunner() if workers <= 1 else ProcessRunner(workers)
