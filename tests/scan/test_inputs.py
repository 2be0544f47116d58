"""Planning and reading scan inputs: names, layout, every kind of bad input."""

from __future__ import annotations

import gzip
import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from random import Random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from distillguard.errors import InputError
from distillguard.scan.inputs import (
    Document,
    Skipped,
    Unit,
    kind_of,
    plan,
    read_unit,
    read_units,
)

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    yield


def write(path: str, data: bytes | str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def jsonl(*records: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def items(path: str, **kwargs: str) -> list[Document | Skipped]:
    units, skipped = plan([path])
    assert not skipped
    return [item for unit in units for item in read_unit(unit, **kwargs)]


def docs(path: str, **kwargs: str) -> list[tuple[str, str]]:
    return [(d.doc, d.text) for d in items(path, **kwargs) if isinstance(d, Document)]


def skips(path: str, **kwargs: str) -> list[Skipped]:
    return [s for s in items(path, **kwargs) if isinstance(s, Skipped)]


# --- plan -----------------------------------------------------------------------------------


def test_missing_path_is_an_input_error() -> None:
    with pytest.raises(InputError, match="nope: no such file or directory"):
        plan(["nope"])


def test_no_paths_is_an_input_error() -> None:
    with pytest.raises(InputError):
        plan([])


def test_broken_symlink_as_path_is_an_input_error() -> None:
    os.symlink("missing", "link")
    with pytest.raises(InputError, match="broken symlink"):
        plan(["link"])


def test_input_inside_the_output_dir_is_refused() -> None:
    write("out/clean/a.py", "x")
    with pytest.raises(InputError, match="inside the output directory"):
        plan(["out/clean"], exclude=Path("out"))


def test_walk_is_sorted_depth_first_and_keeps_dotfiles() -> None:
    for name in ["b.py", "a/z.py", "a/.hidden", ".env", "c/d/e.txt", "a.txt"]:
        write(f"data/{name}", "x")
    units, skipped = plan(["data"])
    assert not skipped
    assert [u.path for u in units] == [
        "data/.env",
        "data/a/.hidden",
        "data/a/z.py",
        "data/a.txt",
        "data/b.py",
        "data/c/d/e.txt",
    ]


@pytest.mark.parametrize("given", ["data", "data/", "./data"])
def test_file_names_join_the_path_as_given(given: str) -> None:
    write("data/sub/a.py", "x = 1\n")
    [unit], _ = plan([given])
    expected = given.rstrip("/") + "/sub/a.py"
    assert unit == Unit(expected, "file", "sub/a.py", 6)
    assert docs(given) == [(expected, "x = 1\n")]


def test_record_files_in_a_directory_are_units_of_their_kind() -> None:
    write("data/x.jsonl", jsonl({"text": "a"}))
    write("data/y.jsonl.gz", gzip.compress(jsonl({"text": "b"})))
    write("data/z.parquet", b"")
    write("data/w.json", "{}")
    units, _ = plan(["data"])
    assert [(u.path, u.kind) for u in units] == [
        ("data/w.json", "file"),
        ("data/x.jsonl", "jsonl"),
        ("data/y.jsonl.gz", "jsonl"),
        ("data/z.parquet", "parquet"),
    ]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.jsonl", "jsonl"),
        ("A.JSONL.GZ", "jsonl"),
        ("a.jsonl.zst", "jsonl"),
        ("a.parquet", "parquet"),
        ("a.json", "file"),
        ("a.gz", "file"),
        ("jsonl", "file"),
    ],
)
def test_kind_of(name: str, kind: str) -> None:
    assert kind_of(name) == kind


def test_one_file_goes_under_its_name() -> None:
    write("deep/dir/shard.jsonl", jsonl({"text": "a"}))
    [unit], _ = plan(["deep/dir/shard.jsonl"])
    assert unit == Unit("deep/dir/shard.jsonl", "jsonl", "shard.jsonl", unit.size)


def test_several_inputs_go_under_their_basenames_made_unique() -> None:
    write("a/data/x.py", "1")
    write("b/data/y.py", "2")
    write("c/data-2/z.py", "3")
    write("d/s.jsonl.gz", gzip.compress(b""))
    write("e/s.jsonl.gz", gzip.compress(b""))
    write("f/notes.txt", "n")
    write("g/notes.txt", "m")
    paths = ["a/data", "b/data/", "c/data-2", "d/s.jsonl.gz", "e/s.jsonl.gz", "f/notes.txt"]
    units, _ = plan([*paths, "g/notes.txt"])
    assert [u.out_rel for u in units] == [
        "data/x.py",
        "data-3/y.py",  # data-2 is another input's own name
        "data-2/z.py",
        "s.jsonl.gz",
        "s-2.jsonl.gz",
        "notes.txt",
        "notes-2.txt",
    ]
    assert units[1].path == "b/data/y.py"


def test_the_output_dir_inside_an_input_is_not_walked() -> None:
    write("data/a.py", "x")
    write("data/out/clean/a.py", "x")  # a previous scan's output
    units, skipped = plan(["data"], exclude=Path("data/out"))
    assert [u.path for u in units] == ["data/a.py"]
    assert not skipped


def test_the_output_dir_is_recognised_however_it_is_named() -> None:
    write("data/a.py", "x")
    write("data/out/report.json", "{}")
    units, _ = plan(["data"], exclude=Path("data/../data/out/"))
    assert [u.path for u in units] == ["data/a.py"]


def test_symlinked_files_are_followed_directories_are_not() -> None:
    write("data/real/a.py", "x")
    os.symlink("real/a.py", "data/file_link")
    os.symlink("real", "data/dir_link")
    os.symlink(".", "data/loop")
    os.symlink("missing", "data/broken")
    units, skipped = plan(["data"])
    assert [(u.path, u.out_rel) for u in units] == [
        ("data/file_link", "file_link"),
        ("data/real/a.py", "real/a.py"),
    ]
    assert [(s.path, s.reason) for s in skipped] == [
        ("data/broken", "broken symlink: No such file or directory"),
        ("data/dir_link", "symlink to a directory: not followed"),
        ("data/loop", "symlink to a directory: not followed"),
    ]


def test_a_fifo_is_skipped_not_read() -> None:
    write("data/a.py", "x")
    os.mkfifo("data/pipe")
    units, skipped = plan(["data"])
    assert [u.path for u in units] == ["data/a.py"]
    assert skipped == [Skipped("data/pipe", "not a regular file (FIFO)")]


@pytest.mark.skipif(IS_ROOT, reason="root reads everything")
def test_an_unreadable_directory_is_skipped_with_the_os_reason() -> None:
    write("data/locked/a.py", "x")
    write("data/b.py", "x")
    os.chmod("data/locked", 0)
    try:
        units, skipped = plan(["data"])
    finally:
        os.chmod("data/locked", 0o755)
    assert [u.path for u in units] == ["data/b.py"]
    assert skipped == [Skipped("data/locked", "Permission denied")]


def test_units_and_documents_pickle() -> None:
    for value in (Unit("a", "jsonl", "a", 3), Document("a:1", "t", b"{}"), Skipped("a", "r")):
        assert pickle.loads(pickle.dumps(value)) == value


# --- plain files ----------------------------------------------------------------------------


def test_a_file_is_one_document_with_its_bytes() -> None:
    source = "def f():\n    return 'é'\n"
    write("data/a.py", source)
    assert items("data") == [Document("data/a.py", source, source.encode())]


def test_an_empty_file_is_a_document() -> None:
    write("data/empty", b"")
    assert items("data") == [Document("data/empty", "", b"")]


def test_a_bom_stays_in_the_text() -> None:
    write("data/a.txt", "\ufeffabc".encode())
    assert docs("data") == [("data/a.txt", "\ufeffabc")]


def test_a_nul_byte_early_makes_a_file_binary() -> None:
    write("data/img.png", b"\x89PNG\r\n\x1a\n\x00\x00")
    write("data/late.txt", b"a" * 9000 + b"\x00")  # past the first 8 KiB: text, if valid
    assert items("data") == [
        Skipped("data/img.png", "binary file"),
        Document("data/late.txt", "a" * 9000 + "\x00", b"a" * 9000 + b"\x00"),
    ]


def test_invalid_utf8_names_the_byte() -> None:
    write("data/latin1.txt", "café".encode("latin-1"))
    assert items("data") == [Skipped("data/latin1.txt", "invalid UTF-8 at byte 3")]


def test_a_vanished_file_is_skipped_with_the_os_reason() -> None:
    write("data/a.py", "x")
    units, _ = plan(["data"])
    os.remove("data/a.py")
    assert list(read_unit(units[0])) == [Skipped("data/a.py", "No such file or directory")]


@pytest.mark.skipif(IS_ROOT, reason="root reads everything")
def test_an_unreadable_file_is_skipped_with_the_os_reason() -> None:
    write("data/a.py", "x")
    os.chmod("data/a.py", 0)
    assert items("data") == [Skipped("data/a.py", "Permission denied")]


def test_read_units_tags_each_item_with_its_unit() -> None:
    write("data/a.py", "a")
    write("data/b.bin", b"\x00")
    units, _ = plan(["data"])
    assert list(read_units(units)) == [
        (units[0], Document("data/a.py", "a", b"a")),
        (units[1], Skipped("data/b.bin", "binary file")),
    ]


# --- JSONL ----------------------------------------------------------------------------------


def test_jsonl_records_are_named_by_line() -> None:
    write("data/s.jsonl", jsonl({"text": "a"}, {"text": "b", "meta": 1}))
    [unit], _ = plan(["data"])
    assert list(read_unit(unit)) == [
        Document("data/s.jsonl:1", "a", b'{"text": "a"}'),
        Document("data/s.jsonl:2", "b", b'{"text": "b", "meta": 1}'),
    ]


def test_jsonl_text_and_id_fields() -> None:
    write("s.jsonl", jsonl({"body": "a", "id": 7}, {"body": "b", "id": "x-1"}))
    assert docs("s.jsonl", text_field="body", id_field="id") == [("7", "a"), ("x-1", "b")]


def test_jsonl_last_line_without_newline_and_crlf() -> None:
    write("s.jsonl", b'{"text": "a"}\r\n{"text": "b"}')
    assert items("s.jsonl") == [
        Document("s.jsonl:1", "a", b'{"text": "a"}\r'),
        Document("s.jsonl:2", "b", b'{"text": "b"}'),
    ]


def test_every_bad_jsonl_line_is_skipped_with_its_reason() -> None:
    lines = [
        b'{"text": "ok"}',
        b'{"text": "unterminated',
        b"",
        b'["text"]',
        b'{"other": 1}',
        b'{"text": null}',
        b'{"text": 5}',
        b'{"text": "\xff"}',
        b'{"text": "a\\ud800b"}',
        b"[" * 100_000,
        b'{"text": "\\ud83d\\ude00 fine"}',
    ]
    write("s.jsonl", b"\n".join(lines) + b"\n")
    got = items("s.jsonl")
    assert [g.doc for g in got if isinstance(g, Document)] == ["s.jsonl:1", "s.jsonl:11"]
    reasons = {s.path: s.reason for s in got if isinstance(s, Skipped)}
    assert reasons["s.jsonl:2"].startswith("malformed JSON: unexpected end of data")
    assert reasons["s.jsonl:3"] == "blank line (no JSON record)"
    assert reasons["s.jsonl:4"] == "record is a JSON array, not an object"
    assert reasons["s.jsonl:5"] == "no 'text' field (or it is null)"
    assert reasons["s.jsonl:6"] == "no 'text' field (or it is null)"
    assert reasons["s.jsonl:7"] == "'text' is a JSON number, not a string"
    assert reasons["s.jsonl:8"] == "invalid UTF-8 at byte 10 of the line"
    assert reasons["s.jsonl:9"].startswith("malformed JSON: no low surrogate in string")
    assert reasons["s.jsonl:10"].startswith("malformed JSON: depth limit exceeded")
    assert len(got) == len(lines)


def test_a_record_without_its_id_is_skipped() -> None:
    write("s.jsonl", jsonl({"text": "a", "id": 1}, {"text": "b"}, {"text": "c", "id": None}))
    got = items("s.jsonl", id_field="id")
    assert got[0] == Document("1", "a", b'{"text": "a", "id": 1}')
    assert got[1:] == [
        Skipped("s.jsonl:2", "no 'id' field (or it is null)"),
        Skipped("s.jsonl:3", "no 'id' field (or it is null)"),
    ]


def test_an_empty_jsonl_has_no_documents() -> None:
    write("s.jsonl", b"")
    write("t.jsonl.gz", gzip.compress(b""))
    write("u.jsonl.zst", zstandard.ZstdCompressor().compress(b""))
    assert items("s.jsonl") == items("t.jsonl.gz") == items("u.jsonl.zst") == []


LINES = jsonl(*({"text": f"line {i} " + "x" * (i % 50)} for i in range(3000)))


@pytest.mark.parametrize(
    "name, data",
    [
        ("s.jsonl.gz", gzip.compress(LINES)),
        ("s.jsonl.zst", zstandard.ZstdCompressor().compress(LINES)),
    ],
)
def test_compressed_jsonl_reads_the_same_lines(name: str, data: bytes) -> None:
    write(name, data)
    got = docs(name)
    assert len(got) == 3000
    assert got[41] == (f"{name}:42", "line 41 " + "x" * 41)


def test_concatenated_gzip_members_and_zstd_frames() -> None:
    a, b = jsonl({"text": "a"}), jsonl({"text": "b"})
    write("s.jsonl.gz", gzip.compress(a) + gzip.compress(b) + b"\0" * 16)
    cctx = zstandard.ZstdCompressor()
    write("s.jsonl.zst", cctx.compress(a) + cctx.compress(b))
    assert [t for _, t in docs("s.jsonl.gz")] == ["a", "b"]
    assert [t for _, t in docs("s.jsonl.zst")] == ["a", "b"]


@pytest.mark.parametrize(
    ("name", "compress", "word"),
    [
        ("s.jsonl.gz", gzip.compress, "gzip"),
        ("s.jsonl.zst", zstandard.ZstdCompressor().compress, "zstd"),
    ],
)
def test_a_truncated_stream_keeps_the_lines_before_the_break(
    name: str, compress: object, word: str
) -> None:
    rng = Random(1)
    records = [{"text": "".join(rng.choice("abcdefgh ") for _ in range(200))} for _ in range(5000)]
    data = compress(jsonl(*records))  # type: ignore[operator]
    write(name, data[: len(data) // 2])
    got = items(name)
    documents = [g for g in got if isinstance(g, Document)]
    assert 0 < len(documents) < 5000
    assert [d.text for d in documents] == [r["text"] for r in records[: len(documents)]]
    assert got[-1] == Skipped(
        name,
        f"truncated {word} stream (ends inside a {'member' if word == 'gzip' else 'frame'}); "
        f"read stopped after line {len(documents)}",
    )
    assert len(got) == len(documents) + 1


def test_a_corrupt_gzip_is_skipped_with_the_decoder_error() -> None:
    rng = Random(2)
    texts = ["".join(rng.choice("abcdefgh ") for _ in range(200)) for _ in range(5000)]
    data = bytearray(gzip.compress(jsonl(*({"text": t} for t in texts))))
    data[-8:-4] = bytes(4)  # the CRC, checked at the end of the member
    write("s.jsonl.gz", bytes(data))
    *documents, last = items("s.jsonl.gz")
    assert 4000 < len(documents) < 5000  # only what the last piece decoded to is lost
    assert [d.text for d in documents if isinstance(d, Document)] == texts[: len(documents)]
    assert isinstance(last, Skipped)
    assert last.path == "s.jsonl.gz"
    assert last.reason.startswith("corrupt gzip stream: ")
    assert last.reason.endswith(f"; read stopped after line {len(documents)}")


def test_a_file_that_is_not_gzip_is_skipped() -> None:
    write("s.jsonl.gz", LINES)
    [skip] = items("s.jsonl.gz")
    assert isinstance(skip, Skipped)
    assert skip.path == "s.jsonl.gz"
    assert skip.reason.startswith("corrupt gzip stream: ")  # the codec's words follow


def test_a_file_that_is_not_zstd_is_skipped() -> None:
    write("s.jsonl.zst", LINES)
    [skip] = items("s.jsonl.zst")
    assert isinstance(skip, Skipped)
    assert skip.path == "s.jsonl.zst"
    assert skip.reason.startswith("corrupt zstd stream: ")


def test_an_unreadable_record_file_is_skipped() -> None:
    write("data/s.jsonl.gz", gzip.compress(LINES))
    units, _ = plan(["data"])
    os.remove("data/s.jsonl.gz")
    assert list(read_unit(units[0])) == [Skipped("data/s.jsonl.gz", "No such file or directory")]


def test_a_very_long_line_across_many_chunks() -> None:
    text = "y" * (5 << 20)
    write("s.jsonl", jsonl({"text": "a"}, {"text": text}, {"text": "c"}))
    assert [t for _, t in docs("s.jsonl")] == ["a", text, "c"]


# --- Parquet --------------------------------------------------------------------------------


def parquet(path: str, table: pa.Table, **kwargs: object) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **kwargs)


def test_parquet_rows_are_named_by_index() -> None:
    parquet("data/t.parquet", pa.table({"text": ["a", "b", "c"], "n": [1, 2, 3]}))
    [unit], _ = plan(["data"])
    assert list(read_unit(unit)) == [
        Document("data/t.parquet:0", "a", 0),
        Document("data/t.parquet:1", "b", 1),
        Document("data/t.parquet:2", "c", 2),
    ]


def test_parquet_across_row_groups_with_ids() -> None:
    texts = [f"t{i}" for i in range(20_000)]
    parquet("t.parquet", pa.table({"body": texts, "id": range(20_000)}), row_group_size=3000)
    got = docs("t.parquet", text_field="body", id_field="id")
    assert got == [(str(i), t) for i, t in enumerate(texts)]


def test_parquet_large_and_dictionary_strings_are_text() -> None:
    col = pa.array(["a", "b", "a"]).dictionary_encode()
    parquet("d.parquet", pa.table({"text": col}))
    parquet("l.parquet", pa.table({"text": pa.array(["a"], pa.large_string())}))
    assert [t for _, t in docs("d.parquet")] == ["a", "b", "a"]
    assert docs("l.parquet") == [("l.parquet:0", "a")]


def test_parquet_null_text_and_null_id_rows_are_skipped() -> None:
    parquet("t.parquet", pa.table({"text": ["a", None, "c"], "id": ["x", "y", None]}))
    assert items("t.parquet", id_field="id") == [
        Document("x", "a", 0),
        Skipped("t.parquet:1", "'text' is null"),
        Skipped("t.parquet:2", "'id' is null"),
    ]


def test_parquet_without_the_text_column_is_skipped() -> None:
    parquet("t.parquet", pa.table({"content": ["a"], "id": [1]}))
    assert items("t.parquet") == [Skipped("t.parquet", "no 'text' column (columns: content, id)")]
    assert items("t.parquet", text_field="content", id_field="key") == [
        Skipped("t.parquet", "no 'key' column (columns: content, id)")
    ]


def test_parquet_with_a_non_string_text_column_is_skipped() -> None:
    parquet("t.parquet", pa.table({"text": [1, 2]}))
    assert items("t.parquet") == [Skipped("t.parquet", "column 'text' is int64, not a string")]


def test_a_corrupt_parquet_is_skipped() -> None:
    write("t.parquet", b"PAR1 this is not parquet at all PAR1")
    [skip] = items("t.parquet")
    assert isinstance(skip, Skipped)
    assert skip.path == "t.parquet"
    assert skip.reason.startswith("cannot read Parquet: ")


def test_a_parquet_with_a_damaged_row_group_keeps_the_rows_before() -> None:
    texts = [f"row {i} " + "z" * 50 for i in range(30_000)]
    parquet("t.parquet", pa.table({"text": texts}), row_group_size=10_000, compression="none")
    meta = pq.ParquetFile("t.parquet").metadata
    start = meta.row_group(2).column(0).data_page_offset
    data = bytearray(Path("t.parquet").read_bytes())
    data[start : start + 64] = b"\xff" * 64
    Path("t.parquet").write_bytes(bytes(data))
    got = items("t.parquet")
    documents = [g for g in got if isinstance(g, Document)]
    assert [d.text for d in documents] == texts[: len(documents)]
    assert len(documents) >= 16_384  # the first two row groups, in whole batches
    last = got[-1]
    assert isinstance(last, Skipped)
    assert last.path == "t.parquet"
    assert last.reason.startswith(f"corrupt Parquet at row {len(documents)}: ")
