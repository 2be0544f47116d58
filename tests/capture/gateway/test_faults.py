"""kill -9 and a database outage under load: no answer a client received complete is lost.

Clients stream Anthropic Messages through a real ``distillguard serve`` subprocess whose ledger
is PostgreSQL; the gateway is killed with SIGKILL at random moments and restarted on the same
DISTILLGUARD_HOME (its spool is replayed), and the database is stopped mid-run and brought back.
The database is a private PostgreSQL cluster (initdb/pg_ctl) where the server binaries are
installed, else a cuttable TCP proxy in front of a fresh database on the shared server. The
scenario lives in benchmarks/gateway_bench/faults.py (the benchmark runs a longer version).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from benchmarks.gateway_bench import faults

SECONDS = float(os.environ.get("DG_FAULT_SECONDS", "30"))


def _check(result: dict[str, object]) -> None:
    counts = result["counts"]
    assert isinstance(counts, dict)
    context = f"seed {result['seed']}: {counts}\nevents: {result['events']}"
    assert counts["kills"] >= 2, context
    assert counts["completed"] >= 20, context  # the run did real work
    assert counts["completed_while_db_down"] > 0, context  # served from the spool alone
    assert counts["client_duplicate_ids"] == 0, context
    assert counts["lost"] == 0, context
    assert counts["duplicates"] == 0, context
    assert counts["recorded_once"] == counts["completed_unique_ids"], context
    assert counts["ledger_verify_ok"], context


@pytest.mark.skipif(
    faults.private_pg_unavailable() is not None,
    reason=f"no private PostgreSQL cluster: {faults.private_pg_unavailable()} "
    "(test_kill9_and_cut_database_proxy covers the fault)",
)
def test_kill9_and_database_stop_private_cluster(tmp_path: Path) -> None:
    _check(faults.run_fault(tmp_path, seconds=SECONDS, clients=20))


@pytest.mark.postgres
@pytest.mark.skipif(
    faults.private_pg_unavailable() is None,
    reason="a private PostgreSQL cluster can run: the real stop is tested",
)
def test_kill9_and_cut_database_proxy(tmp_path: Path, pg_url: str) -> None:
    _check(faults.run_fault(tmp_path, seconds=SECONDS, clients=20, shared_url=pg_url))
