"""The Ray runner on a local cluster of 2 CPUs: order, errors, long-lived actors, and a worker
killed mid-run."""

from __future__ import annotations

import os
import signal
import time
import uuid
from functools import lru_cache

import pytest

from distillguard.errors import InputError
from distillguard.runner.ray import RayRunner
from tests.runner.ray_cluster import ray_cluster  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("ray_cluster")


def square(x: int) -> int:
    return x * x


def refuse_three(x: int) -> int:
    if x == 3:
        raise InputError("three is not wanted")
    return x


@lru_cache(maxsize=1)
def _built_once() -> str:
    return uuid.uuid4().hex


def worker_state(_: int) -> tuple[int, str]:
    """This process, and what it built for itself (once, if the process lives on)."""
    return os.getpid(), _built_once()


def slow_pid(x: int) -> tuple[int, int]:
    time.sleep(0.2)
    return x, os.getpid()


def test_results_come_back_in_order_from_two_actors() -> None:
    with RayRunner() as runner:
        assert runner.workers == 2
        assert list(runner.map(square, range(40))) == [x * x for x in range(40)]


def test_an_error_on_a_worker_is_raised_here_with_its_type() -> None:
    with RayRunner() as runner, pytest.raises(InputError, match="three"):
        list(runner.map(refuse_three, range(10)))


def test_actors_live_across_calls_and_build_their_state_once() -> None:
    with RayRunner() as runner:
        states = set(runner.map(worker_state, range(30)))
        states |= set(runner.map(worker_state, range(30)))  # a second map, the same actors
    pids = {pid for pid, _ in states}
    assert len(pids) == 2 and os.getpid() not in pids
    assert len(states) == 2  # one state per actor process


def test_a_killed_worker_is_restarted_and_its_calls_run_again() -> None:
    with RayRunner() as runner:
        results = runner.map(slow_pid, range(20))
        first, victim = next(results)
        os.kill(victim, signal.SIGKILL)
        rest = list(results)
    assert [first] + [x for x, _ in rest] == list(range(20))
    pids = {pid for _, pid in rest}
    assert victim not in pids or len(pids) >= 2
    assert len(pids | {victim}) >= 3  # the restarted actor is a new process


def test_a_bad_address_is_a_clear_error() -> None:
    from distillguard.runner import RunnerError

    runner = RayRunner(address="ray://127.0.0.1:1")
    with pytest.raises(RunnerError, match=r"cannot start Ray on ray://127\.0\.0\.1:1"), runner:
        pass
