"""A runner on a Ray cluster: long-lived actors, each a worker process of its own.

Each of ``workers`` actors (one CPU each) runs the calls given to it one after another, so what
a function caches per process (an open memory-mapped index, a matcher) is built once per actor
and stays open for the whole run. Calls go to the actor with the fewest in flight (two at most
each), and results come back in order; no more than ``4 * workers`` results are held, done or
in flight, so a slow call ahead of fast ones bounds memory instead of letting it grow.

A lost actor (its process killed, its node gone) is restarted by Ray and the calls it held are
run again (``max_restarts``/``max_task_retries``): a function given to this runner must be safe
to run twice (write its outputs whole, or not at all).

Connecting: with ``address`` (``auto``, ``ray://host:10001``, ``host:6379``) the runner joins
that cluster; without, it uses the Ray already initialised in this process, or starts a local
one with ``workers`` CPUs, shut down again when the runner exits. The cluster's workers import
distillguard: it must be installed where they run (the same environment locally).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from distillguard.errors import MissingDependencyError
from distillguard.runner.base import RunnerError

A = TypeVar("A")
R = TypeVar("R")
PER_ACTOR = 2
HELD_PER_WORKER = 4
RESTARTS = 3


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError("ray", "ray") from exc
    return ray


class _Worker:
    """The actor: calls functions in its own process."""

    def call(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return fn(arg)


class RayRunner:
    """Runs calls on ``workers`` Ray actors (default, and at most: every CPU of the cluster;
    an actor holds one CPU for its life, so more would wait for ever)."""

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self._wanted = workers
        self.address = address
        self.workers = 0
        self.startup_seconds = 0.0
        self._started_ray = False
        self._actors: list[Any] = []

    def __enter__(self) -> RayRunner:
        import time

        began = time.perf_counter()
        ray = _ray()
        self._connect(ray)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, min(self._wanted or cpus, cpus))  # more would wait for a CPU
        actor = ray.remote(num_cpus=1, max_restarts=RESTARTS, max_task_retries=RESTARTS)(_Worker)
        self._actors = [actor.remote() for _ in range(self.workers)]
        ray.get([a.__ray_ready__.remote() for a in self._actors])
        self.startup_seconds = time.perf_counter() - began
        return self

    def _connect(self, ray: Any) -> None:
        if ray.is_initialized() and self.address is None:
            return
        options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
        if self.address is None:
            options |= {"num_cpus": self._wanted, "include_dashboard": False}
        try:
            ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local cluster"
            raise RunnerError(f"cannot start Ray on {where}: {exc}") from exc
        self._started_ray = True

    def map(self, fn: Callable[[A], R], args: Iterable[A]) -> Iterator[R]:
        if not self._actors:
            raise RunnerError("RayRunner.map called outside its `with` block")
        return _Dispatch(_ray(), self._actors, fn).run(iter(args))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ray = _ray()
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False


class _Dispatch:
    """One ``map``: calls to the least busy actor, results in the arguments' order."""

    def __init__(self, ray: Any, actors: list[Any], fn: Callable[[Any], Any]) -> None:
        self.ray = ray
        self.actors = actors
        self.fn = ray.put(fn)  # shipped once, not with every call
        self.load = [0] * len(actors)
        self.flight: dict[Any, tuple[int, int]] = {}  # ref -> (position, actor)
        self.done: dict[int, Any] = {}

    def run(self, args: Iterator[Any]) -> Iterator[Any]:
        submitted = emitted = 0
        cap = HELD_PER_WORKER * len(self.actors)
        exhausted = False
        while True:
            while not exhausted and self._room(cap):
                arg = next(args, _END)
                if arg is _END:
                    exhausted = True
                    break
                self._submit(submitted, arg)
                submitted += 1
            while emitted in self.done:
                yield self.done.pop(emitted)
                emitted += 1
            if not self.flight:
                if exhausted:
                    return
                continue
            self._collect()

    def _room(self, cap: int) -> bool:
        return min(self.load) < PER_ACTOR and len(self.flight) + len(self.done) < cap

    def _submit(self, position: int, arg: Any) -> None:
        actor = min(range(len(self.actors)), key=self.load.__getitem__)
        ref = self.actors[actor].call.remote(self.fn, arg)
        self.flight[ref] = (position, actor)
        self.load[actor] += 1

    def _collect(self) -> None:
        ready, _ = self.ray.wait(list(self.flight), num_returns=1)
        for ref in ready:
            position, actor = self.flight.pop(ref)
            self.load[actor] -= 1
            try:
                self.done[position] = self.ray.get(ref)
            except self.ray.exceptions.RayActorError as exc:
                raise RunnerError(f"a Ray worker was lost for good: {exc}") from exc


_END = object()
