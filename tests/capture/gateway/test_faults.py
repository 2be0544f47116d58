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
import subprocess
from pathlib import Path

import pytest
from benchmarks.gateway_bench import faults

SECONDS = float(os.environ.get("DG_FAULT_SECONDS", "30"))
SEED = int(os.environ["DG_FAULT_SEED"]) if os.environ.get("DG_FAULT_SEED") else None


def _database(
    request: pytest.FixtureRequest,
) -> tuple[faults.PrivatePostgres | faults.CutProxy, str]:
    """A private cluster where one can run, else a cuttable proxy to a fresh database on the
    shared server (which skips, or fails under DISTILLGUARD_REQUIRE_POSTGRES, when that server
    is unreachable)."""
    why = faults.private_pg_unavailable()
    if why is None:
        try:
            return faults.private_database()
        except (subprocess.SubprocessError, OSError) as exc:
            why = f"initdb/pg_ctl failed: {exc}"
    print(f"no private PostgreSQL cluster ({why}): cutting a proxy to the shared server")
    url: str = request.getfixturevalue("pg_url")
    return faults.proxied_database(url)


@pytest.mark.postgres
def test_kill9_and_database_outage_lose_nothing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    result = faults.run_fault(
        tmp_path, seconds=SECONDS, clients=20, seed=SEED, database=_database(request)
    )
    counts = result["counts"]
    context = f"seed {result['seed']}: {counts}\nevents: {result['events']}"
    assert counts["kills"] >= 2, context
    assert counts["completed"] >= 20, context  # the run did real work
    assert counts["completed_while_db_down"] > 0, context  # served on the spool alone
    assert counts["client_duplicate_ids"] == 0, context
    assert counts["lost"] == 0, context
    assert counts["duplicates"] == 0, context
    assert counts["recorded_once"] == counts["completed_unique_ids"], context
    assert counts["ledger_verify_ok"], context
