"""Several processes recording at once lose nothing and keep the chain linear."""

from __future__ import annotations

import multiprocessing
import queue
import time
from typing import Any

from distillguard.ledger import Ledger
from distillguard.model import Recorded
from tests.ledger.factory import new_output

WORKERS = 4
EACH = 200
SHARED = 20


def _work(url: str, worker: int, barrier: Any, results: Any) -> None:
    """Record EACH distinct outputs (some one by one, some in batches) and all SHARED ones."""
    barrier.wait()
    with Ledger(url) as ledger:  # opening (and migrating) concurrently is part of the test
        mine = [new_output(1000 * (worker + 1) + i) for i in range(EACH)]
        shared = [new_output(i) for i in range(SHARED)]
        done: list[Recorded] = []
        for i, new in enumerate(mine[:100]):
            done.append(ledger.record(new))
            if i % 5 == 0:
                done.append(ledger.record(shared[(i // 5 + worker) % SHARED]))
        done += ledger.record_many(mine[100:] + shared, batch_size=7)
    results.put((worker, [(r.id, r.created) for r in done]))


def _collect(procs: list[Any], results: Any, limit_s: float = 300) -> dict[int, Any]:
    """Each worker's results; fails as soon as a worker dies or time runs out."""
    outcomes: dict[int, Any] = {}
    deadline = time.monotonic() + limit_s
    while len(outcomes) < len(procs):
        try:
            worker, done = results.get(timeout=1)
        except queue.Empty:
            failed = [proc.exitcode for proc in procs if proc.exitcode not in (None, 0)]
            assert not failed, f"a writer process failed (exit codes {failed})"
            assert time.monotonic() < deadline, f"writers did not finish in {limit_s} s"
            continue
        outcomes[worker] = done
    return outcomes


def test_concurrent_writers_lose_nothing(ledger_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(target=_work, args=(ledger_url, w, barrier, results)) for w in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    try:
        outcomes = _collect(procs, results)
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
    assert [proc.exitcode for proc in procs] == [0] * WORKERS
    created = [rid for done in outcomes.values() for rid, new in done if new]
    assert len(created) == len(set(created)) == WORKERS * EACH + SHARED
    with Ledger(ledger_url) as ledger:
        assert ledger.count() == ledger.max_seq() == WORKERS * EACH + SHARED
        seqs = [o.seq for o in ledger.iter_outputs(with_text=False)]
        ids = {o.id for o in ledger.iter_outputs(with_text=False)}
        report = ledger.verify()
    assert seqs == list(range(1, WORKERS * EACH + SHARED + 1))
    assert ids == set(created)
    assert report.ok, report.problems
