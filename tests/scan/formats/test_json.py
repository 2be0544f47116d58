"""JSON files: an array of records, one record, or text; written back as arrays or as they are."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distillguard.scan.formats import Document, Fields, Limits, Skipped, format_of
from distillguard.scan.formats import json as json_format
from distillguard.scan.formats.json import Item
from distillguard.scan.plan import plan
from tests.scan.files import files_under, split_paths, write

HINT = "; raise it with --max-document-bytes or [scan] max_document_bytes"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    yield


def load(path: Path | str) -> Any:
    data = Path(path).read_bytes()
    return json.loads(gzip.decompress(data) if str(path).endswith(".gz") else data)


def items(path: str, fields: Fields | None = None) -> list[Document | Skipped]:
    units, skipped = plan([path])
    assert not skipped
    assert all(u.kind == "json" for u in units)
    return [item for unit in units for item in format_of(unit).read(unit, fields or Fields())]


def scan(
    paths: list[str], out: Path | str = "out", fields: Fields | None = None
) -> tuple[list[Document], list[Skipped]]:
    return split_paths(paths, Path(out), fields)


RECORDS: list[Any] = [
    {"text": "fine", "id": 1, "meta": {"k": [1, 2.5, None, True]}},
    {"id": 2, "text": "bad one", "lang": "fr", "note": "é😀"},
    {"text": "also fine", "z": 0, "a": -1},
    {"messages": [{"role": "user", "content": "bad question"}], "id": 4},
    {"conversations": [{"from": "human", "value": "hello"}], "id": 5},
]


# --- reading --------------------------------------------------------------------------------


def test_an_array_of_records_is_named_by_index() -> None:
    write("data/a.json", json.dumps(RECORDS, indent=2))
    got = items("data")
    assert [(d.doc, d.text) for d in got if isinstance(d, Document)] == [
        ("data/a.json:0", "fine"),
        ("data/a.json:1", "bad one"),
        ("data/a.json:2", "also fine"),
        ("data/a.json:3", "bad question"),
        ("data/a.json:4", "hello"),
    ]
    assert got[0] == Document("data/a.json:0", "fine", Item(0, RECORDS[0], 5))
    doc = got[3]
    assert isinstance(doc, Document) and doc.fields == (("messages[0].content", 0),)


def test_array_records_by_text_and_id_fields() -> None:
    write("a.json", json.dumps([{"body": "x", "key": "k1"}, {"body": "y", "key": 2}]))
    got = items("a.json", Fields(text="body", id="key"))
    assert [(d.doc, d.text) for d in got if isinstance(d, Document)] == [("k1", "x"), ("2", "y")]


def test_array_items_that_are_no_records_are_skipped_with_the_reason() -> None:
    array = [{"text": "a"}, 3, "s", [1], None, {"other": 1}, {"text": 5}, {"text": "b"}]
    write("a.json", json.dumps(array))
    assert items("a.json") == [
        Document("a.json:0", "a", Item(0, {"text": "a"}, 8)),
        Skipped("a.json:1", "array item is a JSON number, not an object"),
        Skipped("a.json:2", "array item is a JSON string, not an object"),
        Skipped("a.json:3", "array item is a JSON array, not an object"),
        Skipped("a.json:4", "array item is a JSON NoneType, not an object"),
        Skipped("a.json:5", "no 'text' field and no known chat shape (keys: other)"),
        Skipped("a.json:6", "'text' is a JSON number, not a string"),
        Document("a.json:7", "b", Item(7, {"text": "b"}, 8)),
    ]


def test_a_single_chat_object_is_one_record_named_by_the_file() -> None:
    chat = {
        "system": "be brief",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
        ],
    }
    data = json.dumps(chat, indent=1).encode()
    write("chat.json", data)
    assert items("chat.json") == [
        Document(
            "chat.json",
            "be brief\n\nhi\n\nhello",
            data,
            (("system", 0), ("messages[0].content", 10), ("messages[1].content[0].text", 14)),
            len(data),
        )
    ]


def test_a_single_object_with_a_text_field() -> None:
    data = b'{"text": "one record", "id": "r1"}'
    write("r.json", data)
    assert items("r.json", Fields(id="id")) == [Document("r1", "one record", data, None, 34)]


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "app", "version": 3, "deps": ["a", "b"]}\n',
        '// settings\n{"editor.tabSize": 4, /* inline */ "files.eol": "\\n"}\n',
        '{"a": 1,}\n',
        '"just a string"\n',
        "42\n",
        "[]\n",
        '{"text": 5}\n',
        "",
    ],
)
def test_anything_else_is_a_plain_document(content: str) -> None:
    write("c.json", content)
    assert items("c.json") == [Document("c.json", content, content.encode(), nbytes=len(content))]


def test_an_array_holding_any_object_is_records_and_the_rest_is_skipped() -> None:
    write("c.json", '[1, "two", {"text": "a record"}]')
    assert items("c.json") == [
        Skipped("c.json:0", "array item is a JSON number, not an object"),
        Skipped("c.json:1", "array item is a JSON string, not an object"),
        Document("c.json:2", "a record", Item(2, {"text": "a record"}, 3)),
    ]


def test_a_json_that_is_no_text_is_skipped_as_a_plain_file_would_be() -> None:
    write("a.json", '{"text": "caf\xe9"}'.encode("latin-1"))
    write("b.json", b"\x00\x01")
    assert items("a.json") == [Skipped("a.json", "invalid UTF-8 at byte 13")]
    assert items("b.json") == [Skipped("b.json", "binary file")]


def test_a_compressed_array_is_read_through_its_codec() -> None:
    write("a.json.gz", gzip.compress(json.dumps(RECORDS).encode()))
    got = items("a.json.gz")
    assert [d.doc for d in got if isinstance(d, Document)] == [f"a.json.gz:{i}" for i in range(5)]


def test_a_compressed_config_is_a_plain_document_of_its_text() -> None:
    packed = gzip.compress(b'{"setting": true}')
    write("c.json.gz", packed)
    assert items("c.json.gz") == [Document("c.json.gz", '{"setting": true}', packed, nbytes=17)]


def test_a_corrupt_compressed_json_is_skipped() -> None:
    write("a.json.gz", gzip.compress(json.dumps(RECORDS).encode())[:-5])
    assert items("a.json.gz") == [
        Skipped("a.json.gz", "truncated gzip stream (ends inside a member)")
    ]


def test_a_file_too_large_to_parse_whole_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_format, "MAX_BYTES", 10)
    write("a.json", '[{"text": "more than ten bytes"}]')
    assert items("a.json") == [
        Skipped("a.json", "JSON file too large to parse whole (33 bytes > 10); use JSONL")
    ]


def test_records_and_files_over_the_document_cap_are_skipped() -> None:
    capped = Fields(limits=Limits(document_bytes=20))
    write("a.json", json.dumps([{"text": "short"}, {"text": "x" * 21}]))
    assert items("a.json", capped)[1:] == [
        Skipped("a.json:1", f"text too large (21 characters > the 20-byte cap){HINT}")
    ]
    write("b.json", json.dumps({"setting": "y" * 30}))
    assert items("b.json", capped) == [
        Skipped("b.json", f"file too large (45 bytes > the 20-byte cap){HINT}")
    ]


def test_a_compressed_json_inflating_past_the_ratio_is_a_bomb() -> None:
    write("a.json.gz", gzip.compress(b"[" + b" " * (4 << 20) + b"]"))
    size = os.path.getsize("a.json.gz")
    [skipped] = items("a.json.gz", Fields(limits=Limits(document_bytes=1 << 20, ratio=10)))
    assert skipped.reason.startswith(f"gzip stream inflates past {1 << 20:,} bytes from {size:,}")


def test_a_vanished_file_is_skipped_with_the_os_reason() -> None:
    write("a.json", "[]")
    [unit], _ = plan(["a.json"])
    os.remove("a.json")
    assert list(format_of(unit).read(unit, Fields())) == [
        Skipped("a.json", "No such file or directory")
    ]


# --- writing --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.json", "a.json.gz"])
def test_a_mixed_array_splits_into_arrays_of_exactly_its_records(name: str) -> None:
    data = json.dumps(RECORDS, indent=2, ensure_ascii=False).encode()
    write(f"data/sub/{name}", gzip.compress(data) if name.endswith(".gz") else data)
    documents, skipped = scan(["data"])
    assert skipped == []
    assert len(documents) == 5
    clean, quarantine = load(f"out/clean/sub/{name}"), load(f"out/quarantine/sub/{name}")
    assert clean == [RECORDS[0], RECORDS[2], RECORDS[4]]
    assert quarantine == [RECORDS[1], RECORDS[3]]
    assert [list(r) for r in clean] == [list(RECORDS[i]) for i in (0, 2, 4)]  # key order kept


def test_a_skipped_item_is_in_neither_array() -> None:
    array = [{"text": "a"}, 7, {"text": "bad"}, {"no": "text"}, {"text": "b"}]
    write("a.json", json.dumps(array))
    _, skipped = scan(["a.json"])
    assert [s.path for s in skipped] == ["a.json:1", "a.json:3"]
    assert load("out/clean/a.json") == [{"text": "a"}, {"text": "b"}]
    assert load("out/quarantine/a.json") == [{"text": "bad"}]


@pytest.mark.parametrize("where", [1, 2])
def test_a_clean_array_with_a_skipped_item_is_no_copy(where: int) -> None:
    array: list[Any] = [{"text": "a"}, {"text": "b"}, {"text": "c"}]
    array[where] = "not a record"
    write("a.json", json.dumps(array, indent=4))
    scan(["a.json"])
    assert load("out/clean/a.json") == [r for r in array if isinstance(r, dict)]
    assert files_under("out").keys() == {"clean/a.json"}


@pytest.mark.parametrize("name", ["a.json", "a.json.gz"])
def test_an_all_clean_array_is_copied_byte_for_byte(name: str) -> None:
    data = json.dumps([r for r in RECORDS if "bad" not in json.dumps(r)], indent=3).encode()
    source = write(name, gzip.compress(data) if name.endswith(".gz") else data)
    scan([name])
    assert files_under("out") == {f"clean/{name}": source.read_bytes()}


def test_an_all_quarantined_array_makes_only_a_quarantine_array() -> None:
    write("a.json", json.dumps([{"text": "bad 1"}, {"text": "bad 2"}]))
    scan(["a.json"])
    assert set(files_under("out")) == {"quarantine/a.json"}
    assert load("out/quarantine/a.json") == [{"text": "bad 1"}, {"text": "bad 2"}]


def test_an_array_without_documents_writes_nothing() -> None:
    write("a.json", json.dumps([{"other": 1}, 2]))
    _, skipped = scan(["a.json"])
    assert len(skipped) == 2
    assert files_under("out") == {}
    assert json_format.FORMAT.records is False


def test_written_arrays_are_one_record_a_line() -> None:
    write("a.json", json.dumps([{"text": "ok", "n": 1}, {"text": "bad"}, {"text": "ok 2"}]))
    scan(["a.json"])
    assert Path("out/clean/a.json").read_bytes() == (
        b'[\n{"text":"ok","n":1},\n{"text":"ok 2"}\n]\n'
    )


@pytest.mark.parametrize("name", ["chat.json", "chat.json.gz"])
@pytest.mark.parametrize("bad", [False, True])
def test_a_single_record_goes_to_its_side_byte_for_byte(name: str, bad: bool) -> None:
    chat = {"messages": [{"role": "user", "content": "bad ask" if bad else "ask"}]}
    data = json.dumps(chat, indent=2).encode()
    source = write(f"data/{name}", gzip.compress(data) if name.endswith(".gz") else data)
    scan(["data"])
    side = "quarantine" if bad else "clean"
    assert files_under("out") == {f"{side}/{name}": source.read_bytes()}


def test_a_plain_json_goes_to_its_side_byte_for_byte() -> None:
    write("data/settings.json", '// bad idea\n{"a": 1}\n')
    write("data/package.json", '{"name": "x"}\n')
    scan(["data"])
    assert files_under("out") == {
        "quarantine/settings.json": b'// bad idea\n{"a": 1}\n',
        "clean/package.json": b'{"name": "x"}\n',
    }
