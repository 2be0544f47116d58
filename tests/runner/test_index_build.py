"""The index builder runs its chunks on any runner and writes the same index whatever runs
them, and in whatever order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from distillguard.index import build
from distillguard.index.build import IndexBuilder
from distillguard.index.store import TABLE_ARRAYS, Index
from distillguard.ledger import Ledger
from distillguard.model import NewOutput
from distillguard.runner import FakeRunner, InlineRunner, ProcessRunner
from tests.runner.test_local import square
from tests.samples import JS_OUTPUT, PROSE_OUTPUT, PY_OUTPUT, PY_SIBLING


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as led:
        for i, text in enumerate([PY_OUTPUT, JS_OUTPUT, PROSE_OUTPUT] * 3):
            led.record(NewOutput(vendor="anthropic", model="m1", text=text, source_id=str(i)))
        for i in range(9):
            text = PY_SIBLING.replace("width", f"w{i}")
            led.record(NewOutput(vendor="openai", model="m2", text=text, source_id=f"s{i}"))
        yield led


def arrays(root: Path) -> dict[str, np.ndarray]:
    index = Index.open(root)
    found = {name: np.asarray(getattr(index.outputs, name)) for name in TABLE_ARRAYS}
    found["stop"] = np.asarray(index.stop)
    return found


def test_every_runner_builds_the_same_index(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "CHUNK", 4)  # several chunks in flight, out of order on the fake
    fake = FakeRunner(ahead=3)
    made = {}
    for name, runner in (
        ("inline", InlineRunner()),
        ("processes", ProcessRunner(2)),
        ("fake", fake),
    ):
        IndexBuilder(ledger, tmp_path / name, runner=runner).build()
        made[name] = arrays(tmp_path / name)
    assert len(fake.calls) == 5 and fake.entered == fake.exited == 1
    for name in ("processes", "fake"):
        for key, value in made["inline"].items():
            assert np.array_equal(made[name][key], value), (name, key)


def test_the_default_runner_follows_the_worker_count(ledger: Ledger, tmp_path: Path) -> None:
    assert isinstance(IndexBuilder(ledger, tmp_path, workers=1)._runner(), InlineRunner)
    many = IndexBuilder(ledger, tmp_path, workers=2)._runner()
    assert isinstance(many, ProcessRunner)
    with many:
        assert list(many.map(square, [3])) == [9]
