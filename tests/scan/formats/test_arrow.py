"""Arrow: IPC files, streams and Feather read and written back; Hugging Face datasets."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import datasets
import orjson
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from distillguard.scan.formats import arrow
from distillguard.scan.formats.arrow import DATASET_FORMAT, FORMAT, is_dataset_dir
from distillguard.scan.formats.base import Document, Fields, Format, Skipped, Unit
from tests.scan.files import by_text, split_unit

Decide = Callable[[Document], bool]
PLAIN = Fields()  # the text field, named by place


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    datasets.disable_progress_bars()
    yield


def scan(
    fmt: Format, unit: Unit, out: Path, decide: Decide = by_text, fields: Fields = PLAIN
) -> tuple[list[Document], list[Skipped]]:
    return split_unit(fmt, unit, out, decide, fields)


def file_unit(path: str) -> Unit:
    return Unit(path, "arrow", os.path.basename(path), os.path.getsize(path))


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- IPC files, streams, Feather ------------------------------------------------------------


def sample(rows: int = 5000) -> pa.Table:
    table = pa.table(
        {
            "text": [
                None if i == 3 else f"{'bad' if i % 9 == 0 else 'ok'} {i}" for i in range(rows)
            ],
            "n": pa.array(range(rows), pa.int32()),
            "tags": [["x"] * (i % 3) for i in range(rows)],
        }
    )
    return table.replace_schema_metadata({"origin": "test"})


def write_file(path: str, table: pa.Table) -> None:
    with pa.ipc.new_file(path, table.schema) as writer:
        writer.write_table(table, max_chunksize=1000)


def write_stream(path: str, table: pa.Table) -> None:
    with pa.ipc.new_stream(path, table.schema) as writer:
        writer.write_table(table, max_chunksize=1000)


def write_feather1(path: str, table: pa.Table) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        feather.write_feather(table, path, version=1)


def read_any(path: Path) -> pa.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return feather.read_table(str(path)) if path.read_bytes()[:4] == b"FEA1" else _ipc(path)


def _ipc(path: Path) -> pa.Table:
    data = path.read_bytes()
    if data.startswith(b"ARROW1"):
        return pa.ipc.open_file(pa.py_buffer(data)).read_all()
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def split_of(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    texts = table.column("text").to_pylist()
    ok = pa.array([t is not None and "bad" not in t for t in texts])
    bad = pa.array([t is not None and "bad" in t for t in texts])
    return table.filter(ok), table.filter(bad)


WRITERS: dict[str, tuple[Callable[[str, pa.Table], None], bytes]] = {
    "t.arrow": (write_file, b"ARROW1"),
    "t.ipc": (write_stream, b"\xff\xff\xff\xff"),
    "v2.feather": (lambda p, t: feather.write_feather(t, p), b"ARROW1"),
    "v1.feather": (write_feather1, b"FEA1"),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_ipc_round_trip_in_the_same_flavour(tmp_path: Path, name: str) -> None:
    write, magic = WRITERS[name]
    table = sample() if magic != b"FEA1" else sample().drop_columns(["tags"])  # not in v1
    write(name, table)
    documents, skipped = scan(FORMAT, file_unit(name), tmp_path / "out")
    assert skipped == [Skipped(f"{name}:3", "'text' is null")]
    assert [d.doc for d in documents[:3]] == [f"{name}:0", f"{name}:1", f"{name}:2"]
    want_clean, want_quarantine = split_of(table)
    for side, want in (("clean", want_clean), ("quarantine", want_quarantine)):
        out = tmp_path / "out" / side / name
        assert out.read_bytes().startswith(magic)
        got = read_any(out)
        assert got.schema == table.schema
        if magic != b"FEA1":  # Feather v1 keeps no schema metadata of its own
            assert got.schema.metadata == table.schema.metadata
        assert got.equals(want)


@pytest.mark.parametrize("codec", ["lz4", "zstd", None])
def test_feather_compression_is_kept(tmp_path: Path, codec: str | None) -> None:
    table = sample()
    feather.write_feather(table, "t.feather", compression=codec or "uncompressed")
    scan(FORMAT, file_unit("t.feather"), tmp_path / "out")
    for side in ("clean", "quarantine"):
        assert arrow._codec(str(tmp_path / "out" / side / "t.feather"), arrow.FILE) == codec


def test_a_wholly_clean_arrow_file_is_copied_as_it_is(tmp_path: Path) -> None:
    write_stream("t.arrow", pa.table({"text": ["a", "b"]}))
    scan(FORMAT, file_unit("t.arrow"), tmp_path / "out")
    assert (tmp_path / "out/clean/t.arrow").read_bytes() == Path("t.arrow").read_bytes()
    assert files_under(tmp_path / "out") == ["clean/t.arrow"]


def test_an_arrow_file_without_documents_is_an_empty_clean_file(tmp_path: Path) -> None:
    table = pa.table({"body": ["a"]}).replace_schema_metadata({"k": "v"})
    write_file("t.arrow", table)
    _, skipped = scan(FORMAT, file_unit("t.arrow"), tmp_path / "out")
    assert skipped == [
        Skipped("t.arrow", "no 'text' column and no known chat shape (columns: body)")
    ]
    out = tmp_path / "out/clean/t.arrow"
    assert out.read_bytes().startswith(b"ARROW1")
    got = _ipc(out)
    assert got.num_rows == 0 and got.schema.metadata == {b"k": b"v"}


def test_view_and_dictionary_strings_are_text() -> None:
    texts = pa.array(["a", None, "c"], pa.string_view())
    words = pa.array(["x", "y", "x"]).dictionary_encode()
    write_file("t.arrow", pa.table({"text": texts, "word": words}))
    got = list(FORMAT.read(file_unit("t.arrow"), Fields()))
    assert [(d.doc, d.text) for d in got if isinstance(d, Document)] == [
        ("t.arrow:0", "a"),
        ("t.arrow:2", "c"),
    ]
    by_word = list(FORMAT.read(file_unit("t.arrow"), Fields(text="word")))
    assert [d.text for d in by_word if isinstance(d, Document)] == ["x", "y", "x"]


def test_a_truncated_stream_keeps_the_rows_before(tmp_path: Path) -> None:
    table = sample()
    write_stream("t.arrow", table)
    data = Path("t.arrow").read_bytes()
    Path("t.arrow").write_bytes(data[: len(data) * 3 // 5])
    documents, skipped = scan(FORMAT, file_unit("t.arrow"), tmp_path / "out")
    rows = 1 + len(documents)  # row 3 is null
    assert rows % 1000 == 0 and rows >= 2000
    assert skipped[-1].path == "t.arrow"
    assert skipped[-1].reason.startswith(f"corrupt Arrow IPC stream at row {rows}: ")
    want_clean, _ = split_of(table.slice(0, rows))
    assert _ipc(tmp_path / "out/clean/t.arrow").equals(want_clean)


def test_what_is_not_arrow_is_skipped_with_its_reason() -> None:
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a"]}), "p.arrow")
    Path("x.arrow").write_bytes(b"hello, not arrow at all")
    assert list(FORMAT.read(file_unit("p.arrow"), Fields())) == [
        Skipped("p.arrow", "Parquet file, not an Arrow IPC file or stream")
    ]
    [skip] = list(FORMAT.read(file_unit("x.arrow"), Fields()))
    assert isinstance(skip, Skipped)
    assert skip.reason.startswith("cannot read Arrow IPC stream: ")


def test_an_unreadable_arrow_file_writes_nothing(tmp_path: Path) -> None:
    Path("x.arrow").write_bytes(b"")
    _, skipped = scan(FORMAT, file_unit("x.arrow"), tmp_path / "out")
    assert [s.path for s in skipped] == ["x.arrow"]
    assert files_under(tmp_path / "out") == []


# --- Hugging Face datasets ------------------------------------------------------------------


def dataset_unit(path: str) -> Unit:
    return Unit(path, "hf-dataset", os.path.basename(path), 0)


def rows_of(ds: datasets.Dataset) -> list[dict[str, object]]:
    return [dict(row) for row in ds]


def plain_dataset() -> datasets.Dataset:
    texts = [f"{'bad' if i % 4 == 1 else 'ok'} {i}" for i in range(10)]
    return datasets.Dataset.from_dict({"text": texts, "n": list(range(10))})


def chat_dataset() -> datasets.Dataset:
    chats = [
        [
            {"role": "user", "content": f"question {i}"},
            {"role": "assistant", "content": "bad answer" if i == 2 else f"answer {i}"},
        ]
        for i in range(4)
    ]
    return datasets.Dataset.from_dict({"id": [f"c{i}" for i in range(4)], "messages": chats})


def test_a_dataset_round_trip_across_shards(tmp_path: Path) -> None:
    ds = plain_dataset()
    ds.save_to_disk("ds", num_shards=3)
    documents, skipped = scan(DATASET_FORMAT, dataset_unit("ds"), tmp_path / "out")
    assert not skipped
    assert [d.doc for d in documents] == [f"ds:{i}" for i in range(10)]
    assert [d.text for d in documents] == ds["text"]
    clean = datasets.load_from_disk(str(tmp_path / "out/clean/ds"))
    quarantine = datasets.load_from_disk(str(tmp_path / "out/quarantine/ds"))
    assert clean.features == ds.features == quarantine.features
    assert rows_of(clean) == [r for r in rows_of(ds) if "bad" not in str(r["text"])]
    assert rows_of(quarantine) == [r for r in rows_of(ds) if "bad" in str(r["text"])]
    state = orjson.loads((tmp_path / "out/clean/ds/state.json").read_bytes())
    before = orjson.loads(Path("ds/state.json").read_bytes())
    assert state["_fingerprint"] != before["_fingerprint"]
    names = {f["filename"] for f in state["_data_files"]}
    assert names == {f["filename"] for f in before["_data_files"]}
    assert (tmp_path / "out/clean/ds/dataset_info.json").read_bytes() == Path(
        "ds/dataset_info.json"
    ).read_bytes()


def test_a_dataset_dict_with_a_chat_split(tmp_path: Path) -> None:
    dd = datasets.DatasetDict({"train": chat_dataset(), "test": plain_dataset()})
    dd.save_to_disk("dd")
    documents, skipped = scan(DATASET_FORMAT, dataset_unit("dd"), tmp_path / "out")
    assert not skipped
    names = [d.doc for d in documents]
    assert names[:4] == [f"dd/train:{i}" for i in range(4)]
    assert names[4:] == [f"dd/test:{i}" for i in range(10)]
    chat = documents[2]
    assert chat.fields is not None and chat.fields[1][0] == "messages[1].content"
    for side, bad in (("clean", False), ("quarantine", True)):
        got = datasets.load_from_disk(str(tmp_path / "out" / side / "dd"))
        assert isinstance(got, datasets.DatasetDict)
        assert list(got) == ["train", "test"]
        for split in ("train", "test"):
            assert got[split].features == dd[split].features
            want = [r for r in rows_of(dd[split]) if ("bad" in str(r)) == bad]
            assert rows_of(got[split]) == want


def test_a_split_without_rows_on_a_side_is_an_empty_split(tmp_path: Path) -> None:
    texts = datasets.Dataset.from_dict({"text": ["ok a", "ok b"]})
    datasets.DatasetDict({"train": plain_dataset(), "extra": texts}).save_to_disk("dd")
    scan(DATASET_FORMAT, dataset_unit("dd"), tmp_path / "out")
    quarantine = datasets.load_from_disk(str(tmp_path / "out/quarantine/dd"))
    assert quarantine["extra"].num_rows == 0
    assert quarantine["extra"].features == texts.features
    clean_extra = tmp_path / "out/clean/dd/extra/data-00000-of-00001.arrow"
    assert clean_extra.read_bytes() == Path("dd/extra/data-00000-of-00001.arrow").read_bytes()


def test_a_dataset_is_named_by_its_id_field() -> None:
    chat_dataset().save_to_disk("ds")
    got = list(DATASET_FORMAT.read(dataset_unit("ds"), Fields(id="id")))
    assert [d.doc for d in got if isinstance(d, Document)] == ["c0", "c1", "c2", "c3"]


def test_a_wholly_clean_dataset_copies_its_shards(tmp_path: Path) -> None:
    datasets.Dataset.from_dict({"text": ["a", "b", "c"]}).save_to_disk("ds", num_shards=2)
    scan(DATASET_FORMAT, dataset_unit("ds"), tmp_path / "out")
    for shard in ("data-00000-of-00002.arrow", "data-00001-of-00002.arrow"):
        assert (tmp_path / "out/clean/ds" / shard).read_bytes() == (Path("ds") / shard).read_bytes()
    assert files_under(tmp_path / "out/quarantine") == []
    assert datasets.load_from_disk(str(tmp_path / "out/clean/ds"))["text"] == ["a", "b", "c"]


def test_a_dataset_without_text_is_an_empty_clean_dataset(tmp_path: Path) -> None:
    ds = datasets.Dataset.from_dict({"body": ["a", "b"]})
    ds.save_to_disk("ds")
    _, skipped = scan(DATASET_FORMAT, dataset_unit("ds"), tmp_path / "out")
    assert skipped == [Skipped("ds", "no 'text' column and no known chat shape (columns: body)")]
    clean = datasets.load_from_disk(str(tmp_path / "out/clean/ds"))
    assert clean.num_rows == 0 and clean.features == ds.features


def test_a_corrupt_shard_keeps_the_rows_before(tmp_path: Path) -> None:
    ds = datasets.Dataset.from_dict(
        {"text": [f"{'bad' if i % 3 == 0 else 'ok'} {i}" for i in range(3000)]}
    )
    ds.save_to_disk("ds", num_shards=2)
    shard = Path("ds/data-00001-of-00002.arrow")
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    documents, skipped = scan(DATASET_FORMAT, dataset_unit("ds"), tmp_path / "out")
    assert len(documents) >= 1500
    assert [d.doc for d in documents] == [f"ds:{i}" for i in range(len(documents))]
    [skip] = skipped
    assert skip.path == str(Path("ds") / "data-00001-of-00002.arrow")
    assert skip.reason.startswith(f"corrupt Arrow IPC stream at row {len(documents) - 1500}: ")
    read = rows_of(ds)[: len(documents)]
    clean = datasets.load_from_disk(str(tmp_path / "out/clean/ds"))
    quarantine = datasets.load_from_disk(str(tmp_path / "out/quarantine/ds"))
    assert rows_of(clean) == [r for r in read if "bad" not in str(r["text"])]
    assert rows_of(quarantine) == [r for r in read if "bad" in str(r["text"])]


def test_a_broken_state_json_is_skipped_and_writes_nothing(tmp_path: Path) -> None:
    plain_dataset().save_to_disk("ds")
    Path("ds/state.json").write_text("{not json")
    _, skipped = scan(DATASET_FORMAT, dataset_unit("ds"), tmp_path / "out")
    [skip] = skipped
    assert skip.path == "ds" and skip.reason.startswith("state.json is not valid JSON: ")
    assert files_under(tmp_path / "out") == []


def test_a_data_file_outside_the_dataset_is_refused() -> None:
    plain_dataset().save_to_disk("ds")
    state = orjson.loads(Path("ds/state.json").read_bytes())
    state["_data_files"] = [{"filename": "../elsewhere.arrow"}]
    Path("ds/state.json").write_bytes(orjson.dumps(state))
    assert list(DATASET_FORMAT.read(dataset_unit("ds"), Fields())) == [
        Skipped("ds", "state.json names a data file outside its directory: '../elsewhere.arrow'")
    ]


def test_is_dataset_dir() -> None:
    plain_dataset().save_to_disk("ds")
    datasets.DatasetDict({"train": plain_dataset()}).save_to_disk("dd")
    Path("plain").mkdir()
    Path("only_state").mkdir()
    Path("only_state/state.json").write_text("{}")
    assert is_dataset_dir("ds") and is_dataset_dir("dd")
    assert is_dataset_dir("dd/train")  # a split alone is a Dataset directory
    assert not is_dataset_dir("plain")
    assert not is_dataset_dir("only_state")
    assert not is_dataset_dir("ds/state.json")
    assert not is_dataset_dir("missing")
