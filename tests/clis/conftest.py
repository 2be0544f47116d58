"""Fixtures for the real-CLI tests: the pinned CLIs (installed once) and the fake upstream."""

from __future__ import annotations

import pytest

from tests.clis.harness import Clis, install_clis
from tests.fakes.vendors import vendor_upstream  # noqa: F401


@pytest.fixture(scope="session")
def clis() -> Clis:
    """The pinned Claude Code and Codex CLIs (npm-installed into .venv/clis on first use)."""
    return install_clis()
