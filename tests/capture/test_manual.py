from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distillguard.capture.manual import (
    BadLine,
    output_from_fields,
    parse_jsonl,
    read_jsonl,
    record_jsonl,
)
from distillguard.errors import InputError
from distillguard.ledger import Ledger
from distillguard.model import NewOutput

GOOD = {"text": "print('hi')", "vendor": "openai", "model": "gpt-5"}


def _line(fields: Any) -> bytes:
    return json.dumps(fields).encode() + b"\n"


def test_all_fields_are_read_and_unknown_keys_ignored() -> None:
    fields = GOOD | {
        "tool": "chat", "actor": "ada", "team": "ml", "session": "s1", "purpose": "tests",
        "request": "write a test", "source_id": "export-3", "message_id": "resp_1",
        "created_at": "2025-03-04T05:06:07.123456+02:00", "usage": {"tokens": 3}, "extra": 1,
    }  # fmt: skip
    [out] = parse_jsonl([_line(fields)], "in.jsonl")
    assert out == NewOutput(
        text="print('hi')", vendor="openai", model="gpt-5", tool="chat", actor="ada", team="ml",
        session="s1", purpose="tests", request="write a test", source_id="export-3",
        message_id="resp_1", created_at=datetime(2025, 3, 4, 3, 6, 7, 123456, tzinfo=UTC),
    )  # fmt: skip


def test_blank_lines_are_skipped_and_line_numbers_stay_true() -> None:
    lines = [b"\n", _line(GOOD), b"   \r\n", b"{oops\n", b"", _line(GOOD | {"text": "b"})]
    items = list(parse_jsonl(lines, "x.jsonl"))
    assert [type(i).__name__ for i in items] == ["NewOutput", "BadLine", "NewOutput"]
    assert isinstance(items[1], BadLine) and items[1].where == "x.jsonl:4"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"text": "caf\xe9", "vendor": "v", "model": "m"}', "invalid UTF-8 at byte offset 13"),
        (b'{"text": "a", "vendor": "v", ', "malformed JSON: Expecting property name"),
        (b"[1, 2]", "expected a JSON object, got an array"),
        (b'"just a string"', "expected a JSON object, got a string"),
        (b"null", "expected a JSON object, got null"),
        (_line({"vendor": "v", "model": "m"}), "missing required field 'text'"),
        (_line(GOOD | {"vendor": None}), "missing required field 'vendor'"),
        (_line(GOOD | {"model": 4}), "'model' must be a string, got a number"),
        (_line(GOOD | {"text": ["a"]}), "'text' must be a string, got an array"),
        (_line(GOOD | {"tool": True}), "'tool' must be a string, got a boolean"),
        (_line(GOOD | {"request": {"a": 1}}), "'request' must be a string, got an object"),
        (_line(GOOD | {"vendor": " "}), "'vendor' is empty"),
        (_line(GOOD | {"text": ""}), "'text' is empty"),
        (_line(GOOD | {"created_at": "last tuesday"}), "'created_at' is not an ISO 8601"),
        (_line(GOOD | {"created_at": 1700000000}), "'created_at' must be an ISO 8601 string"),
        (_line(GOOD | {"created_at": "0001-01-01T00:00:00+01:00"}), "out of range in UTC"),
        (_line(GOOD | {"created_at": "9999-12-31T23:59:59-01:00"}), "out of range in UTC"),
        (b'{"text": "\\ud800", "vendor": "v", "model": "m"}', "lone surrogate (\\ud800)"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed JSON: nested too deeply"),
    ],
)
def test_bad_lines_say_why(line: bytes, reason: str) -> None:
    [bad] = parse_jsonl([line], "f.jsonl")
    assert isinstance(bad, BadLine)
    assert bad.where == "f.jsonl:1"
    assert reason in bad.reason


def test_a_bad_neighbour_drops_nothing_valid() -> None:
    lines = [_line(GOOD | {"text": str(i)}) if i % 3 else b"\xff{" for i in range(30)]
    items = list(parse_jsonl(lines, "f"))
    good = [i for i in items if isinstance(i, NewOutput)]
    assert [o.text for o in good] == [str(i) for i in range(30) if i % 3]
    assert [b.where for b in items if isinstance(b, BadLine)] == [
        f"f:{i + 1}" for i in range(0, 30, 3)
    ]


def test_byte_order_mark_on_the_first_line_is_allowed() -> None:
    [out] = parse_jsonl([b"\xef\xbb\xbf" + _line(GOOD)], "f")
    assert isinstance(out, NewOutput)


def test_crlf_lines() -> None:
    items = list(parse_jsonl([_line(GOOD).rstrip() + b"\r\n"] * 2, "f"))
    assert all(isinstance(i, NewOutput) for i in items) and len(items) == 2


def test_created_at_without_offset_is_utc_and_default_applies() -> None:
    naive = output_from_fields(GOOD | {"created_at": "2025-01-01T10:00:00"})
    assert naive.created_at == datetime(2025, 1, 1, 10, tzinfo=UTC)
    default = datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert output_from_fields(GOOD, default_created=default).created_at == default
    assert output_from_fields(GOOD).created_at is None


def test_output_from_fields_raises_input_error() -> None:
    with pytest.raises(InputError, match="missing required field 'model'"):
        output_from_fields({"text": "a", "vendor": "v"})


def test_reads_a_binary_file(tmp_path: Any) -> None:
    path = tmp_path / "outputs.jsonl"
    path.write_bytes(_line(GOOD) + b"not json\n" + _line(GOOD | {"text": "second"}))
    with path.open("rb") as fh:
        items = list(parse_jsonl(fh, str(path)))
    assert [getattr(i, "text", None) for i in items] == ["print('hi')", None, "second"]
    assert items[1] == BadLine(f"{path}:2", "malformed JSON: Expecting value at column 1")


@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1))
def test_any_text_survives_the_round_trip(text: str) -> None:
    [out] = parse_jsonl([_line(GOOD | {"text": text})], "f")
    assert isinstance(out, NewOutput) and out.text == text


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    for item in parse_jsonl(data.split(b"\n"), "f"):
        assert isinstance(item, NewOutput | BadLine)


@pytest.mark.postgres
def test_a_line_the_ledger_refuses_is_skipped_and_every_other_recorded(pg_url: str) -> None:
    """PostgreSQL cannot store NUL: that line alone is skipped, with its place and reason."""
    lines = [_line(GOOD | {"text": f"answer {i}"}) for i in range(7)]
    lines[4] = _line(GOOD | {"text": "a NUL \x00 in it"})
    lines.insert(2, b"{oops\n")
    with Ledger(pg_url) as ledger:
        done = record_jsonl(ledger, read_jsonl(lines, "x.jsonl"))
        texts = sorted(o.text or "" for o in ledger.iter_outputs())
    assert (done.created, done.known) == (6, 0)
    assert [b.where for b in done.bad] == ["x.jsonl:3", "x.jsonl:6"]
    assert "NUL" in done.bad[1].reason
    assert texts == [f"answer {i}" for i in (0, 1, 2, 3, 5, 6)]


def test_record_jsonl_skips_out_of_range_dates_and_records_the_rest(run, tmp_path: Any) -> None:  # type: ignore[no-untyped-def]
    """A date in range as written but not in UTC crashed the batch with a traceback."""
    path = tmp_path / "export.jsonl"
    path.write_bytes(
        _line(GOOD | {"text": "first"})
        + _line(GOOD | {"text": "early", "created_at": "0001-01-01T00:00:00+01:00"})
        + _line(GOOD | {"text": "counted", "input_tokens": 2**63, "reasoning_tokens": 2**64})
        + _line(GOOD | {"text": "last"})
    )
    result = run("record", "--jsonl", str(path))
    assert result.exit_code == 2, result.output
    assert f"{path}:2: 'created_at' is out of range in UTC" in result.output.replace("\n", "")
    assert "recorded 3 new, 0 already known, 1 bad lines" in result.output
    again = run("record", "--jsonl", str(path))  # idempotent: a rerun adds nothing
    assert "recorded 0 new, 3 already known, 1 bad lines" in again.output
