"""Matches in a chat record, told again per string: the field each span lies in, and where."""

from __future__ import annotations

from distillguard.model import Match
from distillguard.scan.fields import by_field
from distillguard.scan.formats.base import Document, Fields
from distillguard.scan.formats.records import FIELD_SEPARATOR, record_document

# "hello world" at 0, "second turn" at 13, "third" at 26; the text is 31 long.
FIELDS = (("messages[0].content", 0), ("messages[1].content", 13), ("messages[2].content", 26))
TEXT = FIELD_SEPARATOR.join(["hello world", "second turn", "third"])
SIZE = len(TEXT)


def match(*spans: tuple[int, int], output_id: str = "o1") -> Match:
    return Match(output_id, "vendor", "model", 0.5, tuple(spans), matched=7)


def test_the_layout_is_what_a_chat_record_gives() -> None:
    record = {"messages": [{"content": t} for t in ("hello world", "second turn", "third")]}
    doc = record_document("d", record, Fields(), b"")
    assert isinstance(doc, Document)
    assert (doc.text, doc.fields) == (TEXT, FIELDS)


def test_a_span_inside_one_string_is_told_in_that_string() -> None:
    [got] = by_field([match((15, 21))], FIELDS, SIZE)
    assert got == Match("o1", "vendor", "model", 0.5, ((2, 8),), matched=7, field=FIELDS[1][0])
    assert "second turn"[2:8] == TEXT[15:21]


def test_a_span_at_the_edges_of_the_text() -> None:
    assert by_field([match((0, 5)), match((26, 31))], FIELDS, SIZE) == [
        Match("o1", "vendor", "model", 0.5, ((0, 5),), matched=7, field=FIELDS[0][0]),
        Match("o1", "vendor", "model", 0.5, ((0, 5),), matched=7, field=FIELDS[2][0]),
    ]


def test_a_span_across_the_separator_is_cut_in_two() -> None:
    got = by_field([match((6, 19))], FIELDS, SIZE)  # "world\n\nsecond"
    assert [(m.field, m.spans) for m in got] == [
        ("messages[0].content", ((6, 11),)),
        ("messages[1].content", ((0, 6),)),
    ]
    assert all(m.output_id == "o1" and m.matched == 7 for m in got)


def test_a_span_over_a_whole_string_and_both_separators() -> None:
    got = by_field([match((8, 29))], FIELDS, SIZE)
    assert [(m.field, m.spans) for m in got] == [
        ("messages[0].content", ((8, 11),)),
        ("messages[1].content", ((0, 11),)),
        ("messages[2].content", ((0, 3),)),
    ]


def test_a_span_only_over_a_separator_is_told_nowhere() -> None:
    assert by_field([match((11, 13))], FIELDS, SIZE) == []


def test_spans_are_grouped_per_field_in_order() -> None:
    got = by_field([match((1, 3), (5, 9), (14, 16), (20, 28), (29, 31))], FIELDS, SIZE)
    assert [(m.field, m.spans) for m in got] == [
        ("messages[0].content", ((1, 3), (5, 9))),
        ("messages[1].content", ((1, 3), (7, 11))),
        ("messages[2].content", ((0, 2), (3, 5))),
    ]
    for m in got:
        assert list(m.spans) == sorted(m.spans)


def test_each_match_is_split_on_its_own_in_the_given_order() -> None:
    got = by_field([match((27, 30), output_id="b"), match((2, 4), output_id="a")], FIELDS, SIZE)
    assert [(m.output_id, m.field, m.spans) for m in got] == [
        ("b", "messages[2].content", ((1, 4),)),
        ("a", "messages[0].content", ((2, 4),)),
    ]


def test_one_field_covers_the_whole_text() -> None:
    [got] = by_field([match((3, 9))], (("a.b", 0),), 10)
    assert (got.field, got.spans) == ("a.b", ((3, 9),))


def test_spans_index_the_very_string() -> None:
    strings = ["alpha beta", "gamma", "delta epsilon"]
    record = {"conversations": [{"from": "x", "value": s} for s in strings]}
    doc = record_document("d", record, Fields(), b"")
    assert isinstance(doc, Document) and doc.fields is not None
    start = doc.text.index("beta")
    end = doc.text.index("delta") + len("delta")
    got = by_field([match((start, end))], doc.fields, len(doc.text))
    by_path = {f"conversations[{i}].value": s for i, s in enumerate(strings)}
    pieces = {m.field: [by_path[m.field or ""][a:b] for a, b in m.spans] for m in got}
    assert pieces == {
        "conversations[0].value": ["beta"],
        "conversations[1].value": ["gamma"],
        "conversations[2].value": ["delta"],
    }
