"""Recorded usage held against the vendor's own: ``distillguard usage reconcile``.

The ledger's totals per model (``usage --by model`` over the export's period, one recorded
vendor) against a vendor usage export (:mod:`distillguard.capture.wire.exports`), measure by
measure: input tokens (the whole prompt: input + cache read + cache write), output tokens and
cost, each where the export has it. A difference beyond the tolerance (a share of the vendor's
figure) fails the check: calls that went around the gateway, answers lost, usage estimated
wrongly, or prices that are not the vendor's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from distillguard.capture.wire.exports import Export, Totals
from distillguard.capture.wire.prices import base_name
from distillguard.model import UsageRow

MEASURES = (("input", "input tokens"), ("output", "output tokens"), ("cost_usd", "cost (USD)"))


@dataclass(frozen=True)
class Line:
    """One model's one measure: ours (the ledger's), theirs (the vendor's); ``estimated``:
    ours includes usage estimated from the text."""

    model: str
    measure: str
    ours: float
    theirs: float
    estimated: bool = False

    @property
    def difference(self) -> float:
        return self.ours - self.theirs

    @property
    def share(self) -> float | None:
        """The difference as a share of theirs; None when theirs is zero."""
        return self.difference / self.theirs if self.theirs else None

    def within(self, tolerance: float) -> bool:
        return abs(self.difference) <= tolerance * abs(self.theirs) + 1e-9


@dataclass(frozen=True)
class Reconciliation:
    vendor: str
    start: datetime
    end: datetime
    tolerance: float
    lines: tuple[Line, ...]

    @property
    def beyond(self) -> tuple[Line, ...]:
        """The lines whose difference is beyond the tolerance."""
        return tuple(line for line in self.lines if not line.within(self.tolerance))

    @property
    def ok(self) -> bool:
        return not self.beyond


def ours_by_model(rows: list[UsageRow]) -> tuple[dict[str, Totals], set[str]]:
    """The ledger's totals per base model name (rows of ``usage --by model``), and the models
    whose totals include estimated usage."""
    totals: dict[str, Totals] = {}
    estimated: set[str] = set()
    for row in rows:
        model = base_name(row.group or "unknown")
        found = totals.setdefault(model, Totals())
        found.add("input", row.input_tokens + row.cache_read_tokens + row.cache_write_tokens)
        found.add("output", row.output_tokens)
        found.add("cost_usd", row.cost_usd)
        if row.estimated:
            estimated.add(model)
    return totals, estimated


def reconcile(rows: list[UsageRow], export: Export, tolerance: float) -> Reconciliation:
    """Each model's measures, ours against the export's, for every model on either side."""
    assert export.start is not None and export.end is not None  # exports.read checks
    ours, estimated = ours_by_model(rows)
    lines = []
    for model in sorted(set(ours) | set(export.models)):
        mine, theirs = ours.get(model, Totals()), export.models.get(model, Totals())
        for name, label in MEASURES:
            if _carried(export, name):
                value = getattr(theirs, name) or 0
                line = Line(model, label, getattr(mine, name) or 0, value, model in estimated)
                lines.append(line)
    return Reconciliation(export.vendor, export.start, export.end, tolerance, tuple(lines))


def _carried(export: Export, name: str) -> bool:
    """Whether the export gives this measure at all (a billing export has no tokens)."""
    return any(getattr(totals, name) is not None for totals in export.models.values())
