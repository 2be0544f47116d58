"""The local runners and the fake keep the arguments' order, stay bounded and raise what the
function raised."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from distillguard.errors import InputError
from distillguard.runner import FakeRunner, InlineRunner, ProcessRunner, Runner, local_runner


def square(x: int) -> int:
    return x * x


def pid_of(_: int) -> int:
    return os.getpid()


def refuse_three(x: int) -> int:
    if x == 3:
        raise InputError("three is not wanted")
    return x


RUNNERS = [
    pytest.param(lambda: InlineRunner(), id="inline"),
    pytest.param(lambda: ProcessRunner(2), id="processes"),
    pytest.param(lambda: FakeRunner(ahead=4), id="fake"),
]


@pytest.mark.parametrize("make", RUNNERS)
def test_results_come_back_in_the_arguments_order(make) -> None:  # type: ignore[no-untyped-def]
    with make() as runner:
        assert list(runner.map(square, range(50))) == [x * x for x in range(50)]


@pytest.mark.parametrize("make", RUNNERS)
def test_an_error_of_the_function_is_raised_with_its_type(make) -> None:  # type: ignore[no-untyped-def]
    with make() as runner, pytest.raises(InputError, match="three"):
        list(runner.map(refuse_three, range(10)))


def test_processes_draw_only_a_few_arguments_ahead() -> None:
    drawn: list[int] = []

    def args() -> Iterator[int]:
        for x in range(100):
            drawn.append(x)
            yield x

    with ProcessRunner(2, ahead=3) as runner:
        results = runner.map(square, args())
        assert next(results) == 0
        assert len(drawn) == 3
        assert list(results)[-1] == 99 * 99


def test_processes_run_elsewhere_and_inline_here() -> None:
    with ProcessRunner(2) as runner:
        assert os.getpid() not in set(runner.map(pid_of, range(8)))
    with InlineRunner() as inline:
        assert set(inline.map(pid_of, range(3))) == {os.getpid()}


def test_one_worker_is_inline_more_are_processes() -> None:
    assert isinstance(local_runner(1), InlineRunner)
    many = local_runner(3)
    assert isinstance(many, ProcessRunner) and many.workers == 3


def test_the_fake_runs_out_of_order_records_and_fails_on_demand() -> None:
    seen: list[int] = []

    def note(x: int) -> int:
        seen.append(x)
        return x

    fake = FakeRunner(ahead=3)
    assert list(fake.map(note, range(5))) == [0, 1, 2, 3, 4]
    assert seen == [2, 1, 0, 4, 3] and fake.calls == seen
    failing = FakeRunner(ahead=1, fail_at=2, error=InputError("lost"))
    with pytest.raises(InputError, match="lost"):
        list(failing.map(note, range(5)))
    assert failing.calls == [0, 1]


def test_every_runner_is_a_runner() -> None:
    runners: list[Runner] = [InlineRunner(), ProcessRunner(2), FakeRunner()]
    assert [r.workers for r in runners] == [1, 2, 2]
