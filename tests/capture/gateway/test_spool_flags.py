"""The output flags in the spool: they survive the round trip, old lines still decode."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from distillguard.capture.gateway.spool import Spool, decode, encode, read_segment
from distillguard.ledger import Ledger
from distillguard.model import NewOutput

WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _output(**flags: Any) -> NewOutput:
    return NewOutput(vendor="openai", model="gpt-5.4", text="print('hi')", created_at=WHEN,
                     input_tokens=12, output_tokens=3, **flags)  # fmt: skip


def _line(fields: dict[str, object]) -> bytes:
    body = orjson.dumps(fields)
    return b"%08x %s\n" % (zlib.crc32(body), body)


@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"usage_estimated": True},
        {"unparsed": True},
        {"usage_estimated": True, "unparsed": True},
    ],
)
def test_flags_survive_the_round_trip(flags: dict[str, bool]) -> None:
    new = _output(**flags)
    assert decode(encode(new)) == new


def test_false_flags_are_not_written() -> None:
    body = orjson.loads(encode(_output())[9:-1])
    assert "usage_estimated" not in body and "unparsed" not in body
    assert orjson.loads(encode(_output(unparsed=True))[9:-1])["unparsed"] is True


def test_a_line_from_before_the_flags_decodes_with_both_false() -> None:
    line = _line({"vendor": "anthropic", "model": "claude-sonnet-4-6", "text": "ok",
                  "created_at": WHEN.isoformat(), "output_tokens": 2})  # fmt: skip
    new = decode(line)
    assert new is not None and (new.usage_estimated, new.unparsed) == (False, False)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_flag_of_another_type_is_not_a_record(value: object) -> None:
    line = _line({"vendor": "v", "model": "m", "text": "t", "usage_estimated": value})
    assert decode(line) is None


def test_flags_reach_the_ledger_through_a_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    try:
        spool.append_sync(_output(usage_estimated=True))
        raw = NewOutput(vendor="openai", model="gpt-5.4", text="raw body", unparsed=True)
        spool.append_sync(raw)
        (segment,) = [read_segment(path) for path in spool.rotate()]
    finally:
        spool.close()
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.record_many(segment.records)
        flags = [(o.usage_estimated, o.unparsed) for o in ledger.iter_outputs()]
        assert flags == [(True, False), (False, True)] and ledger.verify().ok
