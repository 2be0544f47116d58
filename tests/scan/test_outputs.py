"""Writing scan outputs: round trips per format, layout, the output directory's safety."""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.errors import InputError
from distillguard.scan.inputs import Document, Skipped, Unit, plan, read_unit
from distillguard.scan.outputs import UnitWriter, prepare_out_dir

Decide = Callable[[Document], bool]


def by_text(doc: Document) -> bool:
    return "bad" in doc.text


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def scan(
    paths: list[str], out: Path, decide: Decide = by_text, **fields: str
) -> tuple[list[Document], list[Skipped]]:
    """What the engine does, with ``decide`` as the matcher."""
    prepare_out_dir(out)
    units, skipped = plan(paths, exclude=out)
    documents: list[Document] = []
    for unit in units:
        with UnitWriter(unit, out) as writer:
            for item in read_unit(unit, **fields):
                if isinstance(item, Skipped):
                    skipped.append(item)
                    continue
                writer.write(item, decide(item))
                documents.append(item)
    return documents, skipped


def write(path: Path | str, data: bytes | str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def decompress(name: str, data: bytes) -> bytes:
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def compress(name: str, data: bytes) -> bytes:
    if name.endswith(".gz"):
        return gzip.compress(data)
    if name.endswith(".zst"):
        return zstandard.ZstdCompressor().compress(data)
    return data


def lines_of(path: Path) -> list[bytes]:
    data = decompress(path.name, path.read_bytes())
    assert data == b"" or data.endswith(b"\n")
    return data.split(b"\n")[:-1]


# --- plain files ----------------------------------------------------------------------------


def test_files_round_trip_byte_for_byte(here: Path) -> None:
    contents: dict[str, bytes] = {
        "a.py": b"print('ok')\n",
        "sub/b.py": b"bad = True\r\n",
        "sub/deeper/c.md": "# caf\u00e9 bad\n".encode(),
        ".hidden": b"ok",
        "empty": b"",
        "image.bin": b"\x00\x01\x02",
        "latin.txt": "caf\u00e9".encode("latin-1"),
    }
    for name, data in contents.items():
        write(here / "data" / name, data)
    documents, skipped = scan(["data"], here / "out")
    assert {s.path for s in skipped} == {"data/image.bin", "data/latin.txt"}
    assert files_under(here / "out/clean") == {k: contents[k] for k in ("a.py", ".hidden", "empty")}
    assert files_under(here / "out/quarantine") == {
        k: contents[k] for k in ("sub/b.py", "sub/deeper/c.md")
    }
    assert len(documents) + len(skipped) == len(contents)


def test_one_file_goes_to_clean_under_its_name(here: Path) -> None:
    write("deep/notes.txt", "fine")
    scan(["deep/notes.txt"], here / "out")
    assert files_under(here / "out") == {"clean/notes.txt": b"fine"}


def test_several_inputs_with_one_basename_stay_apart(here: Path) -> None:
    write("a/data/x.py", "one")
    write("b/data/x.py", "two bad")
    write("c/s.jsonl", '{"text": "a"}\n')
    write("d/s.jsonl", '{"text": "bad"}\n')
    scan(["a/data", "b/data", "c/s.jsonl", "d/s.jsonl"], here / "out")
    assert files_under(here / "out") == {
        "clean/data/x.py": b"one",
        "quarantine/data-2/x.py": b"two bad",
        "clean/s.jsonl": b'{"text": "a"}\n',
        "quarantine/s-2.jsonl": b'{"text": "bad"}\n',
    }


def test_a_document_without_a_decision_writes_nothing(here: Path) -> None:
    write("data/a.py", "x")
    (unit,), _ = plan(["data"])
    UnitWriter(unit, here / "out").close()
    assert not (here / "out").exists()


def test_writers_refuse_the_wrong_raw(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        UnitWriter(Unit("a.py", "file", "a.py", 1), tmp_path).write(Document("a", "a", 0), False)
    with pytest.raises(TypeError):
        UnitWriter(Unit("t.parquet", "parquet", "t.parquet", 1), tmp_path).write(
            Document("a", "a", b"a"), False
        )


# --- JSONL ----------------------------------------------------------------------------------

SUFFIXES = [".jsonl", ".jsonl.gz", ".jsonl.zst"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_jsonl_lines_are_split_unchanged(here: Path, suffix: str) -> None:
    raw = [
        b'{"text": "good", "n": 1}',
        b'{"n":2,"text":"bad \\u00e9"}',  # kept as written, not re-serialized
        b"not json",
        b'{"text": "fine"}\r',
        b'{"text": "bad again"}',
    ]
    write(f"data/sub/s{suffix}", compress(suffix, b"\n".join(raw) + b"\n"))
    documents, skipped = scan(["data"], here / "out")
    assert skipped == [Skipped(f"data/sub/s{suffix}:3", skipped[0].reason)]
    assert lines_of(here / f"out/clean/sub/s{suffix}") == [raw[0], raw[3]]
    assert lines_of(here / f"out/quarantine/sub/s{suffix}") == [raw[1], raw[4]]
    assert [d.doc for d in documents] == [f"data/sub/s{suffix}:{n}" for n in (1, 2, 4, 5)]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_an_all_clean_jsonl_makes_no_quarantine_file(here: Path, suffix: str) -> None:
    write(f"s{suffix}", compress(suffix, b'{"text": "a"}\n{"text": "b"}\n'))
    scan([f"s{suffix}"], here / "out")
    assert [p.name for p in (here / "out/quarantine").iterdir()] == []
    assert lines_of(here / f"out/clean/s{suffix}") == [b'{"text": "a"}', b'{"text": "b"}']


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("content", [b"", b"garbage\n"])
def test_a_jsonl_without_documents_is_an_empty_clean_file(
    here: Path, suffix: str, content: bytes
) -> None:
    write(f"data/s{suffix}", compress(suffix, content))
    scan(["data"], here / "out")
    assert lines_of(here / f"out/clean/s{suffix}") == []
    assert not (here / f"out/quarantine/s{suffix}").exists()


def test_the_last_line_gains_its_newline(here: Path) -> None:
    write("s.jsonl", b'{"text": "a"}')
    scan(["s.jsonl"], here / "out")
    assert (here / "out/clean/s.jsonl").read_bytes() == b'{"text": "a"}\n'


def test_gzip_output_is_reproducible(here: Path) -> None:
    write("s.jsonl.gz", gzip.compress(b'{"text": "bad"}\n{"text": "a"}\n'))
    scan(["s.jsonl.gz"], here / "out")
    first = (here / "out/clean/s.jsonl.gz").read_bytes()
    scan(["s.jsonl.gz"], here / "out")
    assert (here / "out/clean/s.jsonl.gz").read_bytes() == first
    assert gzip.decompress(first) == b'{"text": "a"}\n'


def many_lines(n: int) -> list[bytes]:
    return [json.dumps({"text": f"ok {i} " + "v" * (i % 89)}).encode() for i in range(n)]


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_a_wholly_clean_compressed_file_is_copied_as_it_is(here: Path, suffix: str) -> None:
    source = write(f"s{suffix}", compress(suffix, b"".join(x + b"\n" for x in many_lines(30000))))
    scan([f"s{suffix}"], here / "out")
    assert (here / f"out/clean/s{suffix}").read_bytes() == source.read_bytes()


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
@pytest.mark.parametrize("where", [0, 1, 12345, 29999])
def test_a_skipped_line_never_reaches_clean(here: Path, suffix: str, where: int) -> None:
    lines = many_lines(30000)
    lines[where] = b'{"no text": 1}'
    write(f"s{suffix}", compress(suffix, b"".join(x + b"\n" for x in lines)))
    _, skipped = scan([f"s{suffix}"], here / "out")
    assert skipped == [Skipped(f"s{suffix}:{where + 1}", "no 'text' field (or it is null)")]
    assert lines_of(here / f"out/clean/s{suffix}") == lines[:where] + lines[where + 1 :]


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
@pytest.mark.parametrize("where", [0, 7, 29999])
def test_one_quarantined_line_anywhere(here: Path, suffix: str, where: int) -> None:
    lines = many_lines(30000)
    lines[where] = b'{"text": "bad"}'
    write(f"s{suffix}", compress(suffix, b"".join(x + b"\n" for x in lines)))
    scan([f"s{suffix}"], here / "out")
    assert lines_of(here / f"out/clean/s{suffix}") == lines[:where] + lines[where + 1 :]
    assert lines_of(here / f"out/quarantine/s{suffix}") == [b'{"text": "bad"}']


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_a_compressed_last_line_without_newline_gains_it(here: Path, suffix: str) -> None:
    write(f"s{suffix}", compress(suffix, b'{"text": "a"}\n{"text": "b"}'))
    scan([f"s{suffix}"], here / "out")
    assert lines_of(here / f"out/clean/s{suffix}") == [b'{"text": "a"}', b'{"text": "b"}']


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_a_truncated_clean_stream_writes_the_lines_before_the_break(
    here: Path, suffix: str
) -> None:
    data = compress(suffix, b"".join(x + b"\n" for x in many_lines(30000)))
    write(f"s{suffix}", data[: len(data) // 2])
    documents, skipped = scan([f"s{suffix}"], here / "out")
    assert [s.path for s in skipped] == [f"s{suffix}"]
    assert 0 < len(documents) < 30000
    assert lines_of(here / f"out/clean/s{suffix}") == many_lines(len(documents))


def test_a_truncated_stream_writes_the_lines_before_the_break(here: Path) -> None:
    records = [
        {"text": f"{'bad' if i % 3 == 0 else 'ok'} {i} " + "w" * (i % 97)} for i in range(40000)
    ]
    data = zstandard.ZstdCompressor().compress(
        b"".join(json.dumps(r).encode() + b"\n" for r in records)
    )
    write("s.jsonl.zst", data[: len(data) // 2])
    documents, skipped = scan(["s.jsonl.zst"], here / "out")
    assert skipped[-1].path == "s.jsonl.zst"
    assert skipped[-1].reason.startswith("truncated zstd stream")
    kept = [json.dumps(r).encode() for r in records[: len(documents)]]
    assert lines_of(here / "out/clean/s.jsonl.zst") == [k for k in kept if b'"ok' in k]
    assert lines_of(here / "out/quarantine/s.jsonl.zst") == [k for k in kept if b'"bad' in k]


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.text(), max_size=30),
    flags=st.lists(st.booleans(), min_size=30, max_size=30),
    ascii_only=st.booleans(),
    suffix=st.sampled_from(SUFFIXES),
)
def test_jsonl_round_trip_with_any_text(
    texts: list[str], flags: list[bool], ascii_only: bool, suffix: str
) -> None:
    lines = [
        json.dumps({"id": i, "text": t}, ensure_ascii=ascii_only).encode()
        for i, t in enumerate(texts)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = write(
            root / f"in{suffix}", compress(suffix, b"".join(line + b"\n" for line in lines))
        )
        out = root / "out"
        quarantined = dict(enumerate(flags))

        documents, skipped = scan(
            [str(source)], out, lambda d: quarantined[int(d.doc)], id_field="id"
        )
        assert skipped == []
        assert [(d.doc, d.text, d.raw) for d in documents] == [
            (str(i), t, line) for i, (t, line) in enumerate(zip(texts, lines, strict=True))
        ]
        clean, quarantine = out / "clean" / source.name, out / "quarantine" / source.name
        assert (lines_of(clean) if clean.exists() else []) == [
            line for i, line in enumerate(lines) if not flags[i]
        ]
        assert (lines_of(quarantine) if quarantine.exists() else []) == [
            line for i, line in enumerate(lines) if flags[i]
        ]
        assert clean.exists() or quarantine.exists()
        reread = [
            d
            for p in (clean, quarantine)
            if p.exists()
            for d in read_unit(Unit(str(p), "jsonl", p.name, 0), id_field="id")
        ]
        assert sorted((d.doc, d.text) for d in reread if isinstance(d, Document)) == sorted(
            (str(i), t) for i, t in enumerate(texts)
        )


# --- Parquet --------------------------------------------------------------------------------


def sample_table(rows: int) -> pa.Table:
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "text": [
                None if i % 101 == 5 else f"{'bad' if i % 7 == 0 else 'ok'} {i}"
                for i in range(rows)
            ],
            "tags": [[f"t{i % 3}"] * (i % 4) for i in range(rows)],
            "score": [None if i % 2 else i / 3 for i in range(rows)],
        }
    )
    return table.replace_schema_metadata({"origin": "test"})


def test_parquet_rows_split_with_schema_and_order_kept(here: Path) -> None:
    table = sample_table(50_000)
    pq.write_table(table, "t.parquet", row_group_size=7000, compression="zstd")
    documents, skipped = scan(["t.parquet"], here / "out")
    nulls = [i for i in range(50_000) if i % 101 == 5]
    assert [s.path for s in skipped] == [f"t.parquet:{i}" for i in nulls]
    assert len(documents) == 50_000 - len(nulls)
    texts = table.column("text").to_pylist()
    is_bad = pa.array([t is not None and "bad" in t for t in texts])
    is_ok = pa.array([t is not None and "bad" not in t for t in texts])
    clean = pq.read_table(here / "out/clean/t.parquet")
    quarantine = pq.read_table(here / "out/quarantine/t.parquet")
    assert clean.schema == table.schema and clean.schema.metadata == table.schema.metadata
    assert clean.equals(table.filter(is_ok))
    assert quarantine.equals(table.filter(is_bad))
    assert (
        pq.ParquetFile(here / "out/clean/t.parquet").metadata.row_group(0).column(0).compression
        == "ZSTD"
    )


def test_parquet_by_id_field(here: Path) -> None:
    pq.write_table(pa.table({"key": ["k1", "k2"], "body": ["bad", "ok"]}), "t.parquet")
    documents, _ = scan(["t.parquet"], here / "out", text_field="body", id_field="key")
    assert [d.doc for d in documents] == ["k1", "k2"]
    assert pq.read_table(here / "out/quarantine/t.parquet").to_pydict() == {
        "key": ["k1"],
        "body": ["bad"],
    }


def test_an_empty_parquet_is_an_empty_clean_file(here: Path) -> None:
    table = sample_table(0)
    Path("data").mkdir()
    pq.write_table(table, "data/t.parquet")
    scan(["data"], here / "out")
    clean = pq.read_table(here / "out/clean/t.parquet")
    assert clean.num_rows == 0 and clean.schema == table.schema
    assert not (here / "out/quarantine/t.parquet").exists()


def test_a_wholly_clean_parquet_is_copied_as_it_is(here: Path) -> None:
    pq.write_table(pa.table({"text": ["a", "b"]}), "t.parquet")
    scan(["t.parquet"], here / "out")
    assert (here / "out/clean/t.parquet").read_bytes() == Path("t.parquet").read_bytes()


def test_a_parquet_whose_rows_are_all_skipped_is_an_empty_clean_file(here: Path) -> None:
    pq.write_table(pa.table({"body": ["a", "b"]}), "t.parquet")
    _, skipped = scan(["t.parquet"], here / "out")
    assert skipped == [Skipped("t.parquet", "no 'text' column (columns: body)")]
    assert pq.read_table(here / "out/clean/t.parquet").to_pydict() == {"body": []}


def test_a_parquet_with_a_damaged_row_group_writes_the_rows_before(here: Path) -> None:
    table = sample_table(30_000)
    pq.write_table(table, "t.parquet", row_group_size=10_000, compression="none")
    meta = pq.ParquetFile("t.parquet").metadata
    start = meta.row_group(2).column(1).data_page_offset
    data = bytearray(Path("t.parquet").read_bytes())
    data[start : start + 64] = b"\xff" * 64
    Path("t.parquet").write_bytes(bytes(data))
    documents, skipped = scan(["t.parquet"], here / "out")
    assert skipped[-1].reason.startswith("corrupt Parquet at row ")
    rows = documents[-1].raw
    assert isinstance(rows, int) and rows >= 16_000
    written = (
        pq.read_table(here / "out/clean/t.parquet").num_rows
        + pq.read_table(here / "out/quarantine/t.parquet").num_rows
    )
    assert written == len(documents)


def test_a_corrupt_parquet_writes_nothing(here: Path) -> None:
    write("data/t.parquet", b"not parquet")
    _, skipped = scan(["data"], here / "out")
    assert [s.path for s in skipped] == ["data/t.parquet"]
    assert files_under(here / "out") == {}


# --- the output directory -------------------------------------------------------------------


def test_prepare_creates_both_sides(tmp_path: Path) -> None:
    prepare_out_dir(tmp_path / "new/out")
    assert sorted(p.name for p in (tmp_path / "new/out").iterdir()) == ["clean", "quarantine"]


def test_prepare_refuses_a_foreign_directory_and_touches_nothing(tmp_path: Path) -> None:
    write(tmp_path / "clean/keep.txt", "mine")
    write(tmp_path / "notes.md", "mine")
    with pytest.raises(InputError, match=r"refusing to write into .*notes\.md"):
        prepare_out_dir(tmp_path)
    assert files_under(tmp_path) == {"clean/keep.txt": b"mine", "notes.md": b"mine"}


def test_prepare_refuses_a_file(tmp_path: Path) -> None:
    write(tmp_path / "out", "x")
    with pytest.raises(InputError, match="not a directory"):
        prepare_out_dir(tmp_path / "out")


def test_prepare_clears_a_previous_scan(tmp_path: Path) -> None:
    write(tmp_path / "clean/old.py", "old")
    write(tmp_path / "quarantine/sub/old.py", "old")
    write(tmp_path / "report.json", "{}")
    prepare_out_dir(tmp_path)
    assert files_under(tmp_path) == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "quarantine"]


def test_an_output_dir_inside_the_input_is_never_scanned(here: Path) -> None:
    write("data/a.py", "ok")
    write("data/b.py", "bad")
    for _ in range(2):
        documents, skipped = scan(["data"], here / "data/out")
        assert [d.doc for d in documents] == ["data/a.py", "data/b.py"]
        assert skipped == []
    assert files_under(here / "data/out") == {"clean/a.py": b"ok", "quarantine/b.py": b"bad"}
