"""Planning a scan: names, layout, what is walked and what is skipped, and the output dir."""

from __future__ import annotations

import gzip
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from distillguard.errors import InputError
from distillguard.scan import plan as plan_module
from distillguard.scan.engine import read_units
from distillguard.scan.formats import (
    Document,
    Fields,
    Skipped,
    Unit,
    format_of,
    kind_of,
)
from distillguard.scan.formats.jsonl import Line
from distillguard.scan.outdir import MARKER, prepare_out_dir
from distillguard.scan.plan import plan
from tests.scan.files import files_under, split_paths, write

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    yield


def scan(paths: list[str], out: Path) -> tuple[list[Document], list[Skipped]]:
    return split_paths(paths, out)


# --- PATHs ----------------------------------------------------------------------------------


def test_missing_path_is_an_input_error() -> None:
    with pytest.raises(InputError, match="nope: no such file or directory"):
        plan(["nope"])


def test_no_paths_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no input PATH given"):
        plan([])


def test_broken_symlink_as_path_is_an_input_error() -> None:
    os.symlink("missing", "link")
    with pytest.raises(InputError, match="link: broken symlink"):
        plan(["link"])


def test_input_inside_the_output_dir_is_refused() -> None:
    write("out/clean/a.py", "x")
    with pytest.raises(InputError, match="inside the output directory"):
        plan(["out/clean"], exclude=Path("out"))


def test_a_fifo_given_as_path_is_skipped() -> None:
    os.mkfifo("pipe")
    assert plan(["pipe"]) == ([], [Skipped("pipe", "not a regular file (FIFO)")])


# --- walking --------------------------------------------------------------------------------


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
    assert unit == Unit(expected, "plain", "sub/a.py", 6)
    assert list(format_of(unit).read(unit, Fields())) == [
        Document(expected, "x = 1\n", b"x = 1\n", nbytes=6)
    ]


def test_files_in_a_directory_are_units_of_their_kind() -> None:
    names = [
        "a.txt",
        "b.json",
        "c.jsonl",
        "d.jsonl.gz",
        "e.ndjson.zst",
        "f.jsonl.bz2",
        "g.jsonl.xz",
        "h.csv",
        "i.tsv.gz",
        "j.parquet",
        "k.arrow",
        "l.feather",
        "m.tar.gz",
        "n.zip",
        "o.parquet.gz",
    ]
    for name in names:
        write(f"data/{name}", b"")
    units, _ = plan(["data"])
    assert [(u.path, u.kind) for u in units] == [
        ("data/a.txt", "plain"),
        ("data/b.json", "json"),
        ("data/c.jsonl", "jsonl"),
        ("data/d.jsonl.gz", "jsonl"),
        ("data/e.ndjson.zst", "jsonl"),
        ("data/f.jsonl.bz2", "jsonl"),
        ("data/g.jsonl.xz", "jsonl"),
        ("data/h.csv", "csv"),
        ("data/i.tsv.gz", "csv"),
        ("data/j.parquet", "parquet"),
        ("data/k.arrow", "arrow"),
        ("data/l.feather", "arrow"),
        ("data/m.tar.gz", "archive"),
        ("data/n.zip", "archive"),
        ("data/o.parquet.gz", "plain"),
    ]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.jsonl", "jsonl"),
        ("A.JSONL.GZ", "jsonl"),
        ("a.jsonl.zst", "jsonl"),
        ("a.jsonl.bz2", "jsonl"),
        ("a.jsonl.xz", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.ndjson.gz", "jsonl"),
        ("a.json", "json"),
        ("a.JSON.gz", "json"),
        ("a.csv", "csv"),
        ("a.tsv", "csv"),
        ("a.csv.zst", "csv"),
        ("a.parquet", "parquet"),
        ("a.arrow", "arrow"),
        ("a.feather", "arrow"),
        ("a.ipc", "arrow"),
        ("a.tar", "archive"),
        ("a.tgz", "archive"),
        ("a.tar.gz", "archive"),
        ("a.tar.bz2", "archive"),
        ("a.tar.xz", "archive"),
        ("a.tar.zst", "archive"),
        ("A.ZIP", "archive"),
        ("a.parquet.gz", "plain"),  # Parquet and Arrow compress inside; plain says what it is
        ("a.arrow.zst", "plain"),
        ("a.gz", "plain"),
        ("a.py", "plain"),
        ("jsonl", "plain"),
        (".jsonl", "plain"),
        ("Makefile", "plain"),
    ],
)
def test_kind_of(name: str, kind: str) -> None:
    assert kind_of(name) == kind


def test_one_file_goes_under_its_name() -> None:
    write("deep/dir/shard.jsonl", '{"text": "a"}\n')
    [unit], _ = plan(["deep/dir/shard.jsonl"])
    assert unit == Unit("deep/dir/shard.jsonl", "jsonl", "shard.jsonl", 14)


def test_several_inputs_go_under_their_basenames_made_unique() -> None:
    write("a/data/x.py", "1")
    write("b/data/y.py", "2")
    write("c/data-2/z.py", "3")
    write("d/s.jsonl.gz", gzip.compress(b""))
    write("e/s.jsonl.gz", gzip.compress(b""))
    write("f/notes.txt", "n")
    write("g/notes.txt", "m")
    write("h/t.tar.gz", b"")
    write("i/t.tar.gz", b"")
    paths = ["a/data", "b/data/", "c/data-2", "d/s.jsonl.gz", "e/s.jsonl.gz", "f/notes.txt"]
    units, _ = plan([*paths, "g/notes.txt", "h/t.tar.gz", "i/t.tar.gz"])
    assert [u.out_rel for u in units] == [
        "data/x.py",
        "data-3/y.py",  # data-2 is another input's own name
        "data-2/z.py",
        "s.jsonl.gz",
        "s-2.jsonl.gz",
        "notes.txt",
        "notes-2.txt",
        "t.tar.gz",
        "t-2.tar.gz",
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


def test_a_dataset_directory_is_one_unit_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    def dir_kind(path: str) -> str | None:
        return "hf-dataset" if os.path.exists(os.path.join(path, "dataset_info.json")) else None

    monkeypatch.setattr(plan_module, "dir_kind", dir_kind)
    write("data/a.txt", "x")
    write("data/ds/dataset_info.json", "{}")
    write("data/ds/data-00000-of-00001.arrow", b"12345")
    write("data/z/b.txt", "y")
    units, skipped = plan(["data"])
    assert not skipped
    assert units == [
        Unit("data/a.txt", "plain", "a.txt", 1),
        Unit("data/ds", "hf-dataset", "ds", 7),
        Unit("data/z/b.txt", "plain", "z/b.txt", 1),
    ]
    assert plan(["data/ds"]) == ([Unit("data/ds", "hf-dataset", "ds", 7)], [])
    [_, second], _ = plan(["data/a.txt", "data/ds/"])
    assert second == Unit("data/ds/", "hf-dataset", "ds", 7)


# --- reading what was planned ---------------------------------------------------------------


def test_read_units_tags_each_item_with_its_unit() -> None:
    write("data/a.py", "a")
    write("data/b.bin", b"\x00")
    write("data/c.jsonl", '{"text": "c"}\n')
    units, _ = plan(["data"])
    assert list(read_units(units, Fields())) == [
        (units[0], Document("data/a.py", "a", b"a", nbytes=1)),
        (units[1], Skipped("data/b.bin", "binary file")),
        (units[2], Document("data/c.jsonl:1", "c", Line(1, b'{"text": "c"}', True), nbytes=13)),
    ]


def test_units_documents_and_fields_pickle() -> None:
    values = (
        Unit("a", "jsonl", "a", 3),
        Document("a:1", "t", Line(1, b"{}", True), (("messages[0].content", 0),), 2),
        Document("a", "t", b"t"),
        Skipped("a", "r"),
        Fields("messages[].content", "id"),
    )
    for value in values:
        assert pickle.loads(pickle.dumps(value)) == value


# --- layout of the outputs ------------------------------------------------------------------


def test_several_inputs_with_one_basename_stay_apart(tmp_path: Path) -> None:
    write("a/data/x.py", "one")
    write("b/data/x.py", "two bad")
    write("c/s.jsonl", '{"text": "a"}\n')
    write("d/s.jsonl", '{"text": "bad"}\n{"text": "b"}\n')
    scan(["a/data", "b/data", "c/s.jsonl", "d/s.jsonl"], tmp_path / "out")
    assert files_under(tmp_path / "out") == {
        "clean/data/x.py": b"one",
        "quarantine/data-2/x.py": b"two bad",
        "clean/s.jsonl": b'{"text": "a"}\n',
        "clean/s-2.jsonl": b'{"text": "b"}\n',
        "quarantine/s-2.jsonl": b'{"text": "bad"}\n',
    }


def test_an_output_dir_inside_the_input_is_never_scanned(tmp_path: Path) -> None:
    write("data/a.py", "ok")
    write("data/b.py", "bad")
    for _ in range(2):
        documents, skipped = scan(["data"], tmp_path / "data/out")
        assert [d.doc for d in documents] == ["data/a.py", "data/b.py"]
        assert skipped == []
    assert files_under(tmp_path / "data/out") == {"clean/a.py": b"ok", "quarantine/b.py": b"bad"}


# --- the output directory -------------------------------------------------------------------


def test_prepare_creates_both_sides_and_its_marker(tmp_path: Path) -> None:
    prepare_out_dir(tmp_path / "new/out")
    names = sorted(p.name for p in (tmp_path / "new/out").iterdir())
    assert names == [MARKER, "clean", "quarantine"]


def test_prepare_refuses_a_foreign_directory_and_touches_nothing(tmp_path: Path) -> None:
    write(tmp_path / "clean/keep.txt", "mine")
    write(tmp_path / "notes.md", "mine")
    with pytest.raises(InputError, match=r"refusing to write into .*notes\.md"):
        prepare_out_dir(tmp_path)
    assert files_under(tmp_path) == {"clean/keep.txt": b"mine", "notes.md": b"mine"}


def test_prepare_names_at_most_five_foreign_entries(tmp_path: Path) -> None:
    for name in "abcdefg":
        write(tmp_path / name, "x")
    with pytest.raises(InputError, match=r"\(it holds a, b, c, d, e, \.\.\.\)$"):
        prepare_out_dir(tmp_path)


def test_prepare_refuses_a_file(tmp_path: Path) -> None:
    write(tmp_path / "out", "x")
    with pytest.raises(InputError, match="not a directory"):
        prepare_out_dir(tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"x"


def test_prepare_clears_a_previous_scan(tmp_path: Path) -> None:
    prepare_out_dir(tmp_path)
    write(tmp_path / "clean/old.py", "old")
    write(tmp_path / "quarantine/sub/old.py", "old")
    write(tmp_path / "report.json", "{}")
    prepare_out_dir(tmp_path)
    assert files_under(tmp_path) == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == [MARKER, "clean", "quarantine"]


def test_prepare_refuses_to_replace_what_distillguard_did_not_write(tmp_path: Path) -> None:
    """A user's own clean/ and report.json (all the directory holds) are not a scan's."""
    write(tmp_path / "clean/mine.py", "mine")
    write(tmp_path / "report.json", '{"mine": true}')
    with pytest.raises(InputError, match=r"did not write it .*pass --overwrite"):
        prepare_out_dir(tmp_path)
    assert files_under(tmp_path) == {"clean/mine.py": b"mine", "report.json": b'{"mine": true}'}
    prepare_out_dir(tmp_path, overwrite=True)
    assert files_under(tmp_path) == {}
    assert (tmp_path / MARKER).is_file()


def test_overwrite_still_never_touches_foreign_entries(tmp_path: Path) -> None:
    write(tmp_path / "clean/mine.py", "mine")
    write(tmp_path / "notes.md", "mine")
    with pytest.raises(InputError, match=r"refusing to write into .*notes\.md"):
        prepare_out_dir(tmp_path, overwrite=True)
    assert files_under(tmp_path) == {"clean/mine.py": b"mine", "notes.md": b"mine"}


def test_prepare_removes_a_symlinked_side_not_what_it_points_to(tmp_path: Path) -> None:
    write(tmp_path / "elsewhere/precious.txt", "keep")
    prepare_out_dir(tmp_path / "out")
    os.rmdir(tmp_path / "out/clean")
    write(tmp_path / "out/report.json", "{}")
    os.symlink(tmp_path / "elsewhere", tmp_path / "out/clean")
    prepare_out_dir(tmp_path / "out")
    assert (tmp_path / "elsewhere/precious.txt").read_bytes() == b"keep"
    assert not (tmp_path / "out/clean").is_symlink()
    assert (tmp_path / "out/clean").is_dir()
