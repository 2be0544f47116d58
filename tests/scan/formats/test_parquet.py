"""Parquet: rows read as documents (flat and nested text), written back split by row."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillguard.scan.formats import columnar
from distillguard.scan.formats.base import Document, Fields, Limits, Skipped, Unit
from distillguard.scan.formats.columnar import Chunk
from distillguard.scan.formats.parquet import FORMAT
from tests.scan.files import by_text, split_unit

Decide = Callable[[Document], bool]
PLAIN = Fields()  # the text field, named by place


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    yield


def parquet(path: str, table: pa.Table, **kwargs: object) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **kwargs)


def unit_of(path: str) -> Unit:
    return Unit(path, "parquet", os.path.basename(path), os.path.getsize(path))


def items(path: str, fields: Fields = PLAIN) -> list[Document | Skipped]:
    return list(FORMAT.read(unit_of(path), fields))


def docs(path: str, fields: Fields = PLAIN) -> list[tuple[str, str]]:
    return [(d.doc, d.text) for d in items(path, fields) if isinstance(d, Document)]


def scan(
    path: str, out: Path, decide: Decide = by_text, fields: Fields = PLAIN
) -> tuple[list[Document], list[Skipped]]:
    return split_unit(FORMAT, unit_of(path), out, decide, fields)


def damage_row_group(path: str, group: int, column: int) -> None:
    start = pq.ParquetFile(path).metadata.row_group(group).column(column).data_page_offset
    data = bytearray(Path(path).read_bytes())
    data[start : start + 64] = b"\xff" * 64
    Path(path).write_bytes(bytes(data))


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- reading --------------------------------------------------------------------------------


def test_rows_are_named_by_index() -> None:
    parquet("t.parquet", pa.table({"text": ["a", "b", "c"], "n": [1, 2, 3]}))
    got = items("t.parquet")
    assert [(d.doc, d.text) for d in got if isinstance(d, Document)] == [
        ("t.parquet:0", "a"),
        ("t.parquet:1", "b"),
        ("t.parquet:2", "c"),
    ]
    refs = [d.raw for d in got if isinstance(d, Document)]
    assert all(isinstance(chunk, Chunk) for chunk, _ in refs)
    assert [row for _, row in refs] == [0, 1, 2]
    assert all(d.fields is None for d in got if isinstance(d, Document))


def test_across_row_groups_with_ids() -> None:
    texts = [f"t{i}" for i in range(20_000)]
    parquet("t.parquet", pa.table({"body": texts, "id": range(20_000)}), row_group_size=3000)
    got = docs("t.parquet", Fields(text="body", id="id"))
    assert got == [(str(i), t) for i, t in enumerate(texts)]


def test_large_dictionary_and_view_strings_are_text() -> None:
    parquet("d.parquet", pa.table({"text": pa.array(["a", "b", "a"]).dictionary_encode()}))
    parquet("l.parquet", pa.table({"text": pa.array(["a"], pa.large_string())}))
    assert [t for _, t in docs("d.parquet")] == ["a", "b", "a"]
    assert docs("l.parquet") == [("l.parquet:0", "a")]


def test_null_text_and_null_id_rows_are_skipped() -> None:
    parquet("t.parquet", pa.table({"text": ["a", None, "c"], "id": ["x", "y", None]}))
    got = items("t.parquet", Fields(id="id"))
    assert [(d.doc, d.text) for d in got if isinstance(d, Document)] == [("x", "a")]
    assert [s for s in got if isinstance(s, Skipped)] == [
        Skipped("t.parquet:1", "'text' is null"),
        Skipped("t.parquet:2", "'id' is null"),
    ]


def test_without_the_text_column_is_skipped_naming_the_columns() -> None:
    parquet("t.parquet", pa.table({"content": ["a"], "id": [1]}))
    assert items("t.parquet") == [
        Skipped("t.parquet", "no 'text' column and no known chat shape (columns: content, id)")
    ]
    assert items("t.parquet", Fields(text="body")) == [
        Skipped("t.parquet", "no 'body' column (columns: content, id)")
    ]
    assert items("t.parquet", Fields(text="content", id="key")) == [
        Skipped("t.parquet", "no 'key' column (columns: content, id)")
    ]
    assert items("t.parquet", Fields(text="messages[].content")) == [
        Skipped(
            "t.parquet",
            "no 'messages' column for the text field 'messages[].content' (columns: content, id)",
        )
    ]


def test_texts_over_the_document_cap_are_skipped() -> None:
    hint = "; raise it with --max-document-bytes or [scan] max_document_bytes"
    capped = Fields(limits=Limits(document_bytes=10))
    parquet("a.parquet", pa.table({"text": ["short", "é" * 11], "id": ["a", "b"]}))
    too_long = Skipped("a.parquet:1", f"'text' too large (11 characters > the 10-byte cap){hint}")
    assert items("a.parquet", capped)[1:] == [too_long]
    with_ids = Fields(id="id", limits=capped.limits)
    assert items("a.parquet", with_ids)[1:] == [too_long]
    parquet("c.parquet", chat_table())
    chats = items("c.parquet", capped)
    assert all(isinstance(c, Skipped) and "text too large" in c.reason for c in chats)


def test_a_non_string_text_column_is_skipped() -> None:
    parquet("t.parquet", pa.table({"text": [1, 2]}))
    assert items("t.parquet") == [Skipped("t.parquet", "column 'text' is int64, not a string")]


def test_a_corrupt_parquet_is_skipped() -> None:
    Path("t.parquet").write_bytes(b"PAR1 this is not parquet at all PAR1")
    [skip] = items("t.parquet")
    assert isinstance(skip, Skipped)
    assert skip.path == "t.parquet"
    assert skip.reason.startswith("cannot read Parquet: ")


def test_a_damaged_row_group_keeps_the_rows_before() -> None:
    texts = [f"row {i} " + "z" * 50 for i in range(30_000)]
    parquet("t.parquet", pa.table({"text": texts}), row_group_size=10_000, compression="none")
    damage_row_group("t.parquet", 2, 0)
    got = items("t.parquet")
    documents = [g for g in got if isinstance(g, Document)]
    assert [d.text for d in documents] == texts[: len(documents)]
    assert len(documents) >= 16_384  # the first two row groups, in whole batches
    last = got[-1]
    assert isinstance(last, Skipped)
    assert last.path == "t.parquet"
    assert last.reason.startswith(f"corrupt Parquet at row {len(documents)}: ")


def chat_table() -> pa.Table:
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    chats = [
        [
            {"role": "system", "content": f"be brief {i}"},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": "bad copy" if i == 1 else f"fine {i}"},
        ]
        for i in range(3)
    ]
    return pa.table(
        {"id": ["c0", "c1", "c2"], "messages": pa.array(chats, pa.list_(message))}
    ).replace_schema_metadata({"origin": "chat"})


def test_a_nested_messages_column_is_a_chat_with_fields() -> None:
    parquet("c.parquet", chat_table())
    got = items("c.parquet")
    assert all(isinstance(d, Document) for d in got)
    doc = got[1]
    assert isinstance(doc, Document)
    assert doc.doc == "c.parquet:1"
    assert doc.fields is not None
    paths = [path for path, _ in doc.fields]
    assert paths == [f"messages[{i}].content" for i in range(4)]
    start = dict(doc.fields)["messages[3].content"]
    assert doc.text[start:] == "bad copy"
    assert doc.text.index("bad") >= start


def test_a_nested_text_field_path_and_id() -> None:
    parquet("c.parquet", chat_table())
    got = items("c.parquet", Fields(text="messages[3].content", id="id"))
    assert [(d.doc, d.text) for d in got if isinstance(d, Document)] == [
        ("c0", "fine 0"),
        ("c1", "bad copy"),
        ("c2", "fine 2"),
    ]


# --- writing --------------------------------------------------------------------------------


def sample_table(rows: int, bad: Callable[[int], bool] = lambda i: i % 7 == 0) -> pa.Table:
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "text": [
                None if i % 101 == 5 else f"{'bad' if bad(i) else 'ok'} {i}" for i in range(rows)
            ],
            "tags": [[f"t{i % 3}"] * (i % 4) for i in range(rows)],
            "score": [None if i % 2 else i / 3 for i in range(rows)],
        }
    )
    return table.replace_schema_metadata({"origin": "test"})


def split_of(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    texts = table.column("text").to_pylist()
    is_bad = pa.array([t is not None and "bad" in t for t in texts])
    is_ok = pa.array([t is not None and "bad" not in t for t in texts])
    return table.filter(is_ok), table.filter(is_bad)


def test_rows_split_with_schema_codec_and_order_kept(tmp_path: Path) -> None:
    table = sample_table(50_000)
    parquet("t.parquet", table, row_group_size=7000, compression="zstd")
    documents, skipped = scan("t.parquet", tmp_path / "out")
    nulls = [i for i in range(50_000) if i % 101 == 5]
    assert [s.path for s in skipped] == [f"t.parquet:{i}" for i in nulls]
    assert len(documents) == 50_000 - len(nulls)
    clean = pq.read_table(tmp_path / "out/clean/t.parquet")
    quarantine = pq.read_table(tmp_path / "out/quarantine/t.parquet")
    want_clean, want_quarantine = split_of(table)
    assert clean.schema == table.schema and clean.schema.metadata == table.schema.metadata
    assert clean.equals(want_clean)
    assert quarantine.equals(want_quarantine)
    meta = pq.ParquetFile(tmp_path / "out/clean/t.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


@pytest.mark.parametrize("held_bytes", [columnar.HELD_BYTES, 1])
def test_a_long_clean_run_then_a_bad_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held_bytes: int
) -> None:
    """The clean rows before the first bad one are written from the batches held, or (past
    HELD_BYTES) read again; either way the outputs are the same."""
    monkeypatch.setattr(columnar, "HELD_BYTES", held_bytes)
    table = sample_table(40_000, bad=lambda i: i in (30_000, 39_999))
    parquet("t.parquet", table, row_group_size=9000)
    scan("t.parquet", tmp_path / "out")
    want_clean, want_quarantine = split_of(table)
    assert pq.read_table(tmp_path / "out/clean/t.parquet").equals(want_clean)
    assert pq.read_table(tmp_path / "out/quarantine/t.parquet").equals(want_quarantine)


def test_a_mixed_file_is_written_without_reading_it_again(tmp_path: Path) -> None:
    table = sample_table(20_000, bad=lambda i: i == 15_000)
    parquet("t.parquet", table)
    unit = unit_of("t.parquet")
    read = list(FORMAT.read(unit, Fields()))
    os.remove("t.parquet")
    (tmp_path / "out/clean").mkdir(parents=True)
    sink = FORMAT.sink(unit, tmp_path / "out")
    for doc in read:
        if isinstance(doc, Document):
            sink.write(doc, by_text(doc))
    sink.close()
    want_clean, want_quarantine = split_of(table)
    assert pq.read_table(tmp_path / "out/clean/t.parquet").equals(want_clean)
    assert pq.read_table(tmp_path / "out/quarantine/t.parquet").equals(want_quarantine)


def test_by_id_field(tmp_path: Path) -> None:
    parquet("t.parquet", pa.table({"key": ["k1", "k2"], "body": ["bad", "ok"]}))
    documents, _ = scan("t.parquet", tmp_path / "out", fields=Fields(text="body", id="key"))
    assert [d.doc for d in documents] == ["k1", "k2"]
    assert pq.read_table(tmp_path / "out/quarantine/t.parquet").to_pydict() == {
        "key": ["k1"],
        "body": ["bad"],
    }


def test_nested_chats_are_split_by_row(tmp_path: Path) -> None:
    table = chat_table()
    parquet("c.parquet", table)
    scan("c.parquet", tmp_path / "out")
    assert pq.read_table(tmp_path / "out/quarantine/c.parquet").equals(table.slice(1, 1))
    clean = pq.read_table(tmp_path / "out/clean/c.parquet")
    assert clean.equals(pa.concat_tables([table.slice(0, 1), table.slice(2, 1)]))
    assert clean.schema.metadata == {b"origin": b"chat"}


def test_an_empty_parquet_is_an_empty_clean_file(tmp_path: Path) -> None:
    table = sample_table(0)
    parquet("t.parquet", table)
    scan("t.parquet", tmp_path / "out")
    clean = pq.read_table(tmp_path / "out/clean/t.parquet")
    assert clean.num_rows == 0 and clean.schema == table.schema
    assert not (tmp_path / "out/quarantine/t.parquet").exists()


def test_a_wholly_clean_parquet_is_copied_as_it_is(tmp_path: Path) -> None:
    parquet("t.parquet", pa.table({"text": [f"ok {i}" for i in range(30_000)]}))
    scan("t.parquet", tmp_path / "out")
    assert (tmp_path / "out/clean/t.parquet").read_bytes() == Path("t.parquet").read_bytes()
    assert not (tmp_path / "out/quarantine/t.parquet").exists()


def test_a_clean_parquet_with_a_skipped_row_is_written_without_it(tmp_path: Path) -> None:
    parquet("t.parquet", pa.table({"text": ["a", None, "c"]}))
    scan("t.parquet", tmp_path / "out")
    assert pq.read_table(tmp_path / "out/clean/t.parquet").to_pydict() == {"text": ["a", "c"]}


def test_a_parquet_whose_rows_are_all_skipped_is_an_empty_clean_file(tmp_path: Path) -> None:
    parquet("t.parquet", pa.table({"body": ["a", "b"]}))
    _, skipped = scan("t.parquet", tmp_path / "out")
    assert skipped == [
        Skipped("t.parquet", "no 'text' column and no known chat shape (columns: body)")
    ]
    assert pq.read_table(tmp_path / "out/clean/t.parquet").to_pydict() == {"body": []}


def test_a_damaged_row_group_writes_the_rows_before(tmp_path: Path) -> None:
    table = sample_table(30_000)
    parquet("t.parquet", table, row_group_size=10_000, compression="none")
    damage_row_group("t.parquet", 2, 1)
    documents, skipped = scan("t.parquet", tmp_path / "out")
    assert skipped[-1].reason.startswith("corrupt Parquet at row ")
    chunk, row = documents[-1].raw
    assert isinstance(chunk, Chunk) and chunk.first + row >= 16_000
    written = (
        pq.read_table(tmp_path / "out/clean/t.parquet").num_rows
        + pq.read_table(tmp_path / "out/quarantine/t.parquet").num_rows
    )
    assert written == len(documents)


def test_a_corrupt_parquet_writes_nothing(tmp_path: Path) -> None:
    Path("t.parquet").write_bytes(b"not parquet")
    _, skipped = scan("t.parquet", tmp_path / "out")
    assert [s.path for s in skipped] == ["t.parquet"]
    assert files_under(tmp_path / "out") == []


def test_the_sink_refuses_another_raw(tmp_path: Path) -> None:
    parquet("t.parquet", pa.table({"text": ["a"]}))
    sink = FORMAT.sink(unit_of("t.parquet"), tmp_path)
    with pytest.raises(TypeError):
        sink.write(Document("a", "a", b"a"), False)
