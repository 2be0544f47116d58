"""The text of a record: field paths, every chat shape, where each string lies, and why none."""

from __future__ import annotations

import json
from typing import Any

import pytest

from distillguard.scan.formats.base import Document, Fields, Skipped
from distillguard.scan.formats.records import (
    FIELD_SEPARATOR,
    join,
    record_document,
    record_id,
    record_parts,
)


def parts(record: dict[str, Any], text_field: str | None = None) -> list[tuple[str, str]]:
    found = record_parts(record, text_field)
    assert not isinstance(found, str), found
    return found


def document(record: object, fields: Fields | None = None) -> Document:
    doc = record_document("f.jsonl:1", record, fields or Fields(), b"raw")
    assert isinstance(doc, Document), doc
    return doc


def assert_fields_index_the_text(doc: Document, strings: list[tuple[str, str]]) -> None:
    """Every (path, start) of the document points at its string within the text, in order."""
    assert doc.fields is not None
    assert [path for path, _ in doc.fields] == [path for path, _ in strings]
    for (_, start), (_, string) in zip(doc.fields, strings, strict=True):
        assert doc.text[start : start + len(string)] == string
    assert doc.text == FIELD_SEPARATOR.join(string for _, string in strings)


# --- the text field and field paths ---------------------------------------------------------


def test_a_top_level_text_field_is_the_text_as_it_is() -> None:
    doc = document({"text": "hello\n\nworld", "messages": [{"content": "ignored"}]})
    assert doc == Document("f.jsonl:1", "hello\n\nworld", b"raw", None)


def test_a_named_top_level_field_is_the_text_as_it_is() -> None:
    assert parts({"body": "b", "text": "t"}, "body") == [("", "b")]
    assert document({"body": "b"}, Fields(text="body")).fields is None


def test_a_nested_path() -> None:
    record = {"a": {"b": "deep", "c": "other"}, "b": "top"}
    assert parts(record, "a.b") == [("a.b", "deep")]
    doc = document(record, Fields(text="a.b"))
    assert (doc.text, doc.fields) == ("deep", (("a.b", 0),))


def test_every_item_of_a_list() -> None:
    record = {
        "messages": [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user"},
            {"role": "user", "content": "q2"},
        ]
    }
    assert parts(record, "messages[].content") == [
        ("messages[0].content", "q1"),
        ("messages[1].content", "a1"),
        ("messages[3].content", "q2"),
    ]


def test_one_item_of_a_list() -> None:
    record = {"messages": [{"content": f"m{i}"} for i in range(5)]}
    assert parts(record, "messages[3].content") == [("messages[3].content", "m3")]
    assert record_parts(record, "messages[9].content") == "no text at 'messages[9].content'"


def test_nested_indexes() -> None:
    record = {"grid": [["a", "b"], ["c"]]}
    assert parts(record, "grid[][]") == [
        ("grid[0][0]", "a"),
        ("grid[0][1]", "b"),
        ("grid[1][0]", "c"),
    ]
    assert parts(record, "grid[0][1]") == [("grid[0][1]", "b")]


def test_a_path_ending_at_an_object_or_a_list_reads_every_string_beneath() -> None:
    record = {"meta": {"title": "t", "n": 3, "tags": ["x", "", "y"], "sub": {"note": "z"}}}
    assert parts(record, "meta") == [
        ("meta.title", "t"),
        ("meta.tags[0]", "x"),
        ("meta.tags[2]", "y"),
        ("meta.sub.note", "z"),
    ]


def test_a_key_holding_a_dot_is_tried_first() -> None:
    record = {"a.b": "whole key", "a": {"b": "nested"}}
    assert parts(record, "a.b") == [("", "whole key")]


def test_a_key_holding_a_dot_and_an_object_is_tried_first() -> None:
    assert parts({"a.b": {"c": "x"}}, "a.b") == [("a.b.c", "x")]


@pytest.mark.parametrize(
    ("record", "text_field", "reason"),
    [
        ({"text": 5}, None, "'text' is a JSON number, not a string"),
        ({"text": ["a"]}, None, "'text' is a JSON array, not a string"),
        ({"text": {"a": "b"}}, None, "'text' is a JSON object, not a string"),
        ({"text": True}, None, "'text' is a JSON boolean, not a string"),
        ({"body": 1.5}, "body", "'body' is a JSON number, not a string"),
        ({"body": "b"}, "nope", "no 'nope' field"),
        ({"a": {"b": 1}}, "a.b", "no text at 'a.b'"),
        ({"a": ["x"]}, "a.b", "no text at 'a.b'"),
        ({"a": {"b": [1, None, ""]}}, "a.b", "no text at 'a.b'"),
        ({"m": [{"c": "x"}]}, "m[2].c", "no text at 'm[2].c'"),
        ({}, "[0]", "--text-field '[0]' is not a field path (a.b, messages[].content)"),
        ({}, "a[x]", "--text-field 'a[x]' is not a field path (a.b, messages[].content)"),
        ({}, "a]", "--text-field 'a]' is not a field path (a.b, messages[].content)"),
    ],
)
def test_the_reason_a_record_has_no_text(
    record: dict[str, Any], text_field: str | None, reason: str
) -> None:
    assert record_parts(record, text_field) == reason
    fields = Fields(text=text_field)
    assert record_document("f:1", record, fields, b"") == Skipped("f:1", reason)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"other": 1}, "no 'text' field and no known chat shape (keys: other)"),
        ({"text": None}, "'text' is null and no known chat shape (keys: text)"),
        ({}, "no 'text' field and no known chat shape (keys: none)"),
        (
            {k: 1 for k in "jihgfedcba"},
            "no 'text' field and no known chat shape (keys: a, b, c, d, e, f, g, h)",
        ),
        (
            {"instruction": "only half of alpaca"},
            "no 'text' field and no known chat shape (keys: instruction)",
        ),
        ({"messages": []}, "a chat record without any text"),
        ({"messages": [{"role": "user", "content": ""}]}, "a chat record without any text"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "a chat record without any text",
        ),
    ],
)
def test_the_reason_a_record_without_a_text_field_is_no_chat(
    record: dict[str, Any], reason: str
) -> None:
    assert record_parts(record, None) == reason


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (["text"], "record is a JSON array, not an object"),
        ("text", "record is a JSON string, not an object"),
        (3, "record is a JSON number, not an object"),
        (None, "record is a JSON NoneType, not an object"),
    ],
)
def test_a_record_that_is_not_an_object(record: object, reason: str) -> None:
    assert record_document("f:1", record, Fields(), b"") == Skipped("f:1", reason)


# --- chat shapes ----------------------------------------------------------------------------


def test_openai_messages_with_string_and_part_list_content_and_tool_calls() -> None:
    record = {
        "id": "chatcmpl-1",
        "model": "gpt-x",
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "name": "alice",
                "content": [
                    {"type": "text", "text": "what is here"},
                    {"type": "image_url", "image_url": {"url": "https://x/img.png"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "run",
                            "arguments": json.dumps({"code": "print(1)", "n": 3, "lang": "py"}),
                        },
                    },
                    {"id": "call_2", "type": "function", "function": {"arguments": "not json"}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "1"},
        ],
        "source": "not chat text",
    }
    strings = [
        ("messages[0].content", "be brief"),
        ("messages[1].content[0].text", "what is here"),
        ("messages[2].tool_calls[0].function.arguments.code", "print(1)"),
        ("messages[2].tool_calls[0].function.arguments.lang", "py"),
        ("messages[2].tool_calls[1].function.arguments", "not json"),
        ("messages[3].content", "1"),
    ]
    assert parts(record) == strings
    assert_fields_index_the_text(document(record), strings)


def test_tool_call_arguments_that_are_no_json_object_are_the_string() -> None:
    def args(arguments: str) -> list[tuple[str, str]]:
        record = {"messages": [{"tool_calls": [{"function": {"arguments": arguments}}]}]}
        return parts(record)

    path = "messages[0].tool_calls[0].function.arguments"
    assert args('["a", "b"]') == [(path, '["a", "b"]')]
    assert args('{"broken": ') == [(path, '{"broken": ')]
    assert args(' {"nested": {"deep": "d"}}') == [(f"{path}.nested.deep", "d")]


def test_anthropic_system_and_content_blocks() -> None:
    record = {
        "model": "claude-x",
        "system": "you are terse",
        "max_tokens": 100,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "list the files", "cache_control": {"type": "x"}},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"},
                    },
                    {"type": "document", "source": {"type": "text", "data": "pdf text"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "let me look", "signature": "c2ln"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "bash",
                        "input": {"command": "ls -la", "timeout": 5},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "a.txt b.txt"}],
                    },
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "done"},
                ],
            },
        ],
    }
    strings = [
        ("system", "you are terse"),
        ("messages[0].content[0].text", "list the files"),
        ("messages[1].content[0].thinking", "let me look"),
        ("messages[1].content[2].input.command", "ls -la"),
        ("messages[2].content[0].content[0].text", "a.txt b.txt"),
        ("messages[2].content[1].content", "done"),
    ]
    assert parts(record) == strings
    assert_fields_index_the_text(document(record), strings)


def test_anthropic_system_as_blocks() -> None:
    record = {
        "system": [{"type": "text", "text": "rules"}],
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert parts(record) == [("system[0].text", "rules"), ("messages[0].content", "hi")]


def test_sharegpt_conversations() -> None:
    record = {
        "id": "conv-1",
        "conversations": [
            {"from": "system", "value": "sys"},
            {"from": "human", "value": "question"},
            {"from": "gpt", "value": "answer"},
        ],
    }
    strings = [
        ("conversations[0].value", "sys"),
        ("conversations[1].value", "question"),
        ("conversations[2].value", "answer"),
    ]
    assert parts(record) == strings
    assert_fields_index_the_text(document(record), strings)


def test_gemini_contents() -> None:
    record = {"contents": [{"role": "user", "parts": [{"text": "hi"}, {"text": "there"}]}]}
    assert parts(record) == [
        ("contents[0].parts[0].text", "hi"),
        ("contents[0].parts[1].text", "there"),
    ]


def test_gemini_media_parts_are_not_text() -> None:
    record = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "describe"},
                    {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo"}},
                    {"file_data": {"mime_type": "application/pdf", "file_uri": "gs://b/f.pdf"}},
                ],
            }
        ]
    }
    assert parts(record) == [("contents[0].parts[0].text", "describe")]


def test_alpaca() -> None:
    record = {"instruction": "translate", "input": "", "output": "done", "category": "x"}
    strings = [("instruction", "translate"), ("output", "done")]
    assert parts(record) == strings
    assert_fields_index_the_text(document(record), strings)
    with_input = {"instruction": "sum", "input": "1 2", "output": "3"}
    assert parts(with_input) == [("instruction", "sum"), ("input", "1 2"), ("output", "3")]


@pytest.mark.parametrize("answer", ["completion", "response"])
def test_prompt_and_completion(answer: str) -> None:
    record = {"prompt": "2+2=", answer: "4", "score": 0.9}
    assert parts(record) == [("prompt", "2+2="), (answer, "4")]


def test_chosen_and_rejected_as_strings() -> None:
    record = {"prompt": "p", "chosen": "good", "rejected": "bad"}
    strings = [("prompt", "p"), ("chosen", "good"), ("rejected", "bad")]
    assert parts(record) == strings
    assert_fields_index_the_text(document(record), strings)
    assert parts({"rejected": "only"}) == [("rejected", "only")]


def test_chosen_and_rejected_as_message_lists() -> None:
    record = {
        "chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "good"}],
        "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "bad"}],
    }
    strings = [
        ("chosen[0].content", "q"),
        ("chosen[1].content", "good"),
        ("rejected[0].content", "q"),
        ("rejected[1].content", "bad"),
    ]
    assert parts(record) == strings
    assert_fields_index_the_text(document(record), strings)


def test_a_null_text_field_beside_a_chat_reads_the_chat() -> None:
    assert parts({"text": None, "messages": [{"role": "user", "content": "hi"}]}) == [
        ("messages[0].content", "hi")
    ]


def test_a_text_path_into_a_chat_reads_only_that_path() -> None:
    record = {"system": "s", "messages": [{"role": "user", "content": "q"}]}
    assert parts(record, "messages[].content") == [("messages[0].content", "q")]


# --- join and ids ---------------------------------------------------------------------------


def test_join_keeps_where_each_string_begins() -> None:
    strings = [("a", "x"), ("b", ""), ("c", "héllo 😀"), ("d", "\n\n"), ("e", "end")]
    text, spots = join(strings)
    assert text == "x\n\n\n\nhéllo 😀\n\n\n\n\n\nend"
    assert spots == (("a", 0), ("b", 3), ("c", 5), ("d", 14), ("e", 18))
    for (_, start), (_, string) in zip(spots, strings, strict=True):
        assert text[start : start + len(string)] == string


def test_join_of_one_flat_field_has_no_fields() -> None:
    assert join([("", "as is")]) == ("as is", None)
    assert join([("a", "one nested")]) == ("one nested", (("a", 0),))


def test_documents_are_named_by_their_id_field_or_skipped_without_it() -> None:
    record = {"text": "t", "id": 7, "meta": {"uid": "u-1", "list": [{"k": "first"}]}}
    assert document(record, Fields(id="id")).doc == "7"
    assert document(record, Fields(id="meta.uid")).doc == "u-1"
    assert record_id(record, "meta.list[].k") == "first"
    assert record_id(record, "meta.list") is None  # a list at a path is no id
    assert record_id({"id": False}, "id") == "False"
    for missing in ({"text": "t"}, {"text": "t", "id": None}):
        assert record_document("f:2", missing, Fields(id="id"), b"") == Skipped(
            "f:2", "no 'id' field (or it is null)"
        )


def test_the_document_keeps_its_raw_and_size() -> None:
    doc = record_document("f:1", {"text": "é"}, Fields(), ("anything", 1), 42)
    assert doc == Document("f:1", "é", ("anything", 1), None, 42)
    assert isinstance(doc, Document) and doc.size() == 42
    unsized = record_document("f:1", {"text": "é"}, Fields(), None)
    assert isinstance(unsized, Document) and unsized.size() == 2  # the text in UTF-8
