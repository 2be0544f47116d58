"""Gates fail closed: a scan used as a gate passes only what it really checked.

``scan --fail-on-findings`` and ``scan --policy P`` are gates: a pipeline admits the dataset on
exit 0. A gate that read nothing, skipped inputs, or had nothing to match against checked
nothing, so each of those fails it (exit 2, every reason said), whatever it found.
``--allow-skipped`` accepts skipped inputs (they are still listed in the report, and are in
neither ``clean/`` nor ``quarantine/``).
"""

from __future__ import annotations

from dataclasses import dataclass

from distillguard.scan.engine import Tally


@dataclass(frozen=True)
class Coverage:
    """What a scan could check: documents read, inputs skipped, outputs it hunted."""

    documents: int
    skipped: int
    hunted_vendors: int
    index_outputs: int


def coverage(tally: Tally, hunted_vendors: int, index_outputs: int) -> Coverage:
    return Coverage(tally.documents, tally.skipped_count, hunted_vendors, index_outputs)


def unchecked(cov: Coverage, *, allow_skipped: bool) -> list[str]:
    """Why a gate on this scan cannot pass, whatever it found (empty: it checked everything)."""
    reasons = []
    if cov.documents == 0:
        reasons.append("no documents were read: nothing was checked")
    if cov.skipped and not allow_skipped:
        reasons.append(
            f"{cov.skipped} input(s) could not be read and were skipped (listed in report.json "
            "under 'skipped'); fix them, or pass --allow-skipped to gate on the rest"
        )
    if cov.index_outputs == 0:
        reasons.append("the index holds no outputs: there was nothing to match against")
    elif cov.hunted_vendors == 0:
        reasons.append(
            "no vendor in the index is hunted (every recorded vendor is internal, or allowed "
            "for this purpose): there was nothing to match against"
        )
    return reasons
