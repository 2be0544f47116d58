from __future__ import annotations

from collections.abc import Iterator

import pytest

from distillguard.ledger import Ledger


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """An empty ledger on each backend."""
    with Ledger(ledger_url) as led:
        yield led
