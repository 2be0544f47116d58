"""Gates fail closed: every reason a scan checked nothing, and what --allow-skipped accepts."""

from __future__ import annotations

import pytest

from distillguard.scan.engine import Tally
from distillguard.scan.formats import Skipped
from distillguard.scan.gate import Coverage, coverage, unchecked

NOTHING_READ = "no documents were read: nothing was checked"
EMPTY_INDEX = "the index holds no outputs: there was nothing to match against"
NONE_HUNTED = (
    "no vendor in the index is hunted (every recorded vendor is internal, or allowed for this "
    "purpose): there was nothing to match against"
)


def skipped_reason(n: int) -> str:
    return (
        f"{n} input(s) could not be read and were skipped (listed in report.json under "
        "'skipped'); fix them, or pass --allow-skipped to gate on the rest"
    )


def cov(documents: int = 5, skipped: int = 0, hunted: int = 1, outputs: int = 10) -> Coverage:
    return Coverage(documents, skipped, hunted, outputs)


@pytest.mark.parametrize("allow_skipped", [False, True])
def test_a_scan_that_checked_everything_passes(allow_skipped: bool) -> None:
    assert unchecked(cov(), allow_skipped=allow_skipped) == []


def test_no_documents_read_fails() -> None:
    assert unchecked(cov(documents=0), allow_skipped=False) == [NOTHING_READ]


def test_skipped_inputs_fail_unless_allowed() -> None:
    assert unchecked(cov(skipped=3), allow_skipped=False) == [skipped_reason(3)]
    assert unchecked(cov(skipped=3), allow_skipped=True) == []


def test_allowing_skipped_inputs_does_not_allow_reading_nothing() -> None:
    assert unchecked(cov(documents=0, skipped=2), allow_skipped=True) == [NOTHING_READ]


def test_an_index_without_outputs_fails() -> None:
    assert unchecked(cov(outputs=0), allow_skipped=False) == [EMPTY_INDEX]


def test_an_index_without_hunted_vendors_fails() -> None:
    assert unchecked(cov(hunted=0), allow_skipped=False) == [NONE_HUNTED]


def test_an_empty_index_is_told_once_not_also_as_no_hunted_vendor() -> None:
    assert unchecked(cov(hunted=0, outputs=0), allow_skipped=False) == [EMPTY_INDEX]


def test_every_reason_is_said_in_order() -> None:
    assert unchecked(cov(documents=0, skipped=1, hunted=0, outputs=0), allow_skipped=False) == [
        NOTHING_READ,
        skipped_reason(1),
        EMPTY_INDEX,
    ]
    assert unchecked(cov(documents=0, skipped=4, hunted=0), allow_skipped=False) == [
        NOTHING_READ,
        skipped_reason(4),
        NONE_HUNTED,
    ]


def test_coverage_counts_the_tally() -> None:
    tally = Tally(documents=7, flagged=2, skipped=[Skipped("a", "r"), Skipped("b", "r")])
    assert coverage(tally, hunted_vendors=3, index_outputs=40) == Coverage(7, 2, 3, 40)
    assert unchecked(coverage(tally, 3, 40), allow_skipped=False) == [skipped_reason(2)]
