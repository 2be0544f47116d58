"""Budgets and estimated usage: a cost estimated from the text is no bound (hidden reasoning
tokens are not in the text), so the answer counts its call's charge, kept after the write,
and the ledger's stored spend leaves the estimated cost out (nothing counted twice)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from distillguard.capture.gateway.spend import Spend
from distillguard.config import Team
from distillguard.ledger import Ledger
from distillguard.model import NewOutput

TEAMS = {"ml": Team("ml", budget_usd=1.0)}


def _output(i: int, cost: float, estimated: bool) -> NewOutput:
    return NewOutput(vendor="openai", model="gpt-5.4", text=f"answer {i}", team="ml",
                     key_id="key_a", cost_usd=cost, usage_estimated=estimated,
                     message_id=f"chatcmpl-{i}", created_at=datetime.now(UTC))  # fmt: skip


def test_an_estimated_answer_counts_its_charge_not_its_estimated_cost(tmp_path: Path) -> None:
    spent = Spend(TEAMS)
    exact, estimated = _output(1, 0.01, False), _output(2, 0.0001, True)
    spent.add(exact, charge=0.5)
    spent.add(estimated, charge=0.3)  # the call's reservation
    assert spent.spent("team", "ml", "month") == pytest.approx(0.01 + 0.3)
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.record_many([exact, estimated])
        spent.settle([exact, estimated])
        spent.reload(ledger.spend, datetime.now(UTC))
        assert ledger.spend("team", datetime(2000, 1, 1, tzinfo=UTC)) == {"ml": 0.01}
    assert spent.spent("team", "ml", "month") == pytest.approx(0.01 + 0.3)  # kept, not lost
