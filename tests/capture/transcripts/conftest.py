"""The real CLIs (installed once) and the fake vendor upstream."""

from __future__ import annotations

import pytest

from tests.clis.harness import Clis, install_clis
from tests.fakes.vendors import vendor_upstream  # noqa: F401


@pytest.fixture(scope="session")
def clis() -> Clis:
    return install_clis()
