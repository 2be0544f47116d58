"""The sharded scan (what ``--engine ray`` runs) on the fake runner: the same report and
outputs as the local engine, shards run out of order, and resuming after a lost run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from distillguard.errors import InputError
from distillguard.runner import FakeRunner, InlineRunner
from distillguard.scan.engine import ScanJob, Tally, run
from distillguard.scan.formats import Unit
from distillguard.scan.outdir import SHARDS, prepare_out_dir
from distillguard.scan.plan import plan
from distillguard.scan.report import report_json
from distillguard.scan.shards import prepare_resumable, run_sharded
from tests.scan.ray_corpus import make_corpus, outputs_of


@pytest.fixture
def corpus(run, tmp_path: Path) -> tuple[Path, list[Unit], ScanJob]:  # type: ignore[no-untyped-def]
    corpus = make_corpus(tmp_path, run, files=12)
    assert run("index", "build").exit_code == 0
    units, _ = plan([str(corpus)])
    job = ScanJob(tmp_path / "home" / "index", tmp_path / "out", frozenset({"anthropic", "openai"}))
    return tmp_path, units, job


def local(job: ScanJob, units: list[Unit], out: Path) -> tuple[dict[str, Any], Tally]:
    job = ScanJob(job.index_root, out, job.vendors)
    prepare_out_dir(out)
    tally = run(job, units, InlineRunner())
    return report_json(tally, 0.0, {}), tally


def test_shards_out_of_order_give_the_local_report_and_outputs(corpus) -> None:  # type: ignore[no-untyped-def]
    root, units, job = corpus
    expected, tally = local(job, units, root / "local")
    assert tally.flagged >= 4 and tally.skipped  # findings of every kind, and skipped inputs
    prepare_out_dir(job.out_dir)
    fake = FakeRunner(ahead=5)
    sharded, reused = run_sharded(job, units, fake)
    assert reused == 0 and len(fake.calls) == len(units) and fake.exited == 1
    assert report_json(sharded, 0.0, {}) == expected
    assert outputs_of(job.out_dir) == outputs_of(root / "local")
    assert len(list((job.out_dir / SHARDS).glob("*.json"))) == len(units)


def test_a_lost_run_resumes_from_its_completed_shards(corpus) -> None:  # type: ignore[no-untyped-def]
    root, units, job = corpus
    expected, _ = local(job, units, root / "local")
    prepare_out_dir(job.out_dir)
    with pytest.raises(InputError, match="lost"):
        run_sharded(job, units, FakeRunner(ahead=1, fail_at=5, error=InputError("lost")))
    assert len(list((job.out_dir / SHARDS).glob("*.json"))) == 5
    prepare_resumable(job.out_dir, resume=True, overwrite=False)
    again = FakeRunner(ahead=2)
    sharded, reused = run_sharded(job, units, again, resume=True)
    assert reused == 5 and len(again.calls) == len(units) - 5
    assert report_json(sharded, 0.0, {}) == expected
    assert outputs_of(job.out_dir) == outputs_of(root / "local")


def test_without_resume_every_shard_runs_again(corpus) -> None:  # type: ignore[no-untyped-def]
    _, units, job = corpus
    prepare_out_dir(job.out_dir)
    run_sharded(job, units, FakeRunner())
    prepare_resumable(job.out_dir, resume=False, overwrite=False)
    assert not (job.out_dir / SHARDS).exists()  # a fresh scan clears the old markers
    again = FakeRunner()
    run_sharded(job, units, again)
    assert len(again.calls) == len(units)


def test_a_changed_input_or_setting_runs_its_shards_again(corpus) -> None:  # type: ignore[no-untyped-def]
    root, units, job = corpus
    prepare_out_dir(job.out_dir)
    first, _ = run_sharded(job, units, FakeRunner())
    changed = next(u for u in units if u.path.endswith(".py"))
    Path(changed.path).write_text("def replaced():\n    return 1\n")
    units, _ = plan([str(root / "corpus")])
    again = FakeRunner()
    tally, reused = run_sharded(job, units, again, resume=True)
    assert [s.unit.path for s in again.calls] == [changed.path] and reused == len(units) - 1
    assert tally.documents == first.documents
    other = ScanJob(job.index_root, job.out_dir, frozenset({"openai"}))
    third = FakeRunner()
    run_sharded(other, units, third, resume=True)
    assert len(third.calls) == len(units)
