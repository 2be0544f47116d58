"""Shared fixtures: ``ledger_url`` runs a test on SQLite and on a fresh PostgreSQL database.

PostgreSQL tests use the server at ``DISTILLGUARD_TEST_PG`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, trust auth): each test gets a new
``dg_test_<random>`` database, dropped afterwards. An unreachable server skips them, unless
``DISTILLGUARD_REQUIRE_POSTGRES`` is set: then they fail.

Tests that start real servers and clients (the gateway, the agent CLIs, fault runs, git
rewrites, memory-bounded scans) are marked ``slow``: ``make unit`` leaves them out for a fast
loop; ``make test`` (CI) runs everything.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Modules whose tests run real servers and clients (seconds each): marked ``slow``.
SLOW_MODULES = frozenset(
    {
        "tests/capture/gateway/test_admission.py",
        "tests/capture/gateway/test_budgets.py",
        "tests/capture/gateway/test_capture_never_stops.py",
        "tests/capture/gateway/test_cloud.py",
        "tests/capture/gateway/test_cloud_cli.py",
        "tests/capture/gateway/test_clis.py",
        "tests/capture/gateway/test_clis_faults.py",
        "tests/capture/gateway/test_codex_websocket.py",
        "tests/capture/gateway/test_e2e.py",
        "tests/capture/gateway/test_estimated_usage.py",
        "tests/capture/gateway/test_fail_closed.py",
        "tests/capture/gateway/test_faults.py",
        "tests/capture/gateway/test_gemini.py",
        "tests/capture/gateway/test_gemini_cli.py",
        "tests/capture/gateway/test_limits.py",
        "tests/capture/gateway/test_surface.py",
        "tests/capture/gateway/test_websocket.py",
        "tests/capture/git/test_rewrite.py",
        "tests/capture/hooks/test_hooks_real.py",
        "tests/capture/transcripts/test_import_real.py",
        "tests/clis/test_direct.py",
        "tests/runner/test_ray.py",
        "tests/scan/test_bounded.py",
        "tests/test_snippets_run.py",
        "tests/scan/test_ray_engine.py",
        "tests/test_agents_e2e.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("::", 1)[0] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the server's ``postgres`` database (skip/fail if unreachable)."""
    url = os.environ.get("DISTILLGUARD_TEST_PG", PG_ADMIN_URL)
    try:
        engine = create_engine(
            url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, ImportError) as exc:
        message = f"PostgreSQL at {make_url(url).render_as_string()} is not reachable: {exc}"
        if os.environ.get("DISTILLGUARD_REQUIRE_POSTGRES"):
            pytest.fail(f"{message} (DISTILLGUARD_REQUIRE_POSTGRES is set)")
        pytest.skip(message)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin: Engine) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    name = f"dg_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_admin.url.set(database=name).render_as_string(hide_password=False)
    with pg_admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ledger URL on each backend: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger' / 'ledger.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The command line in a fresh directory with its own DISTILLGUARD_HOME (SQLite):
    ``run("scan", ...)`` returns click's Result."""
    from click.testing import CliRunner

    from distillguard.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISTILLGUARD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DISTILLGUARD_DB", raising=False)
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke
