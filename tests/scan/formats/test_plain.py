"""Plain files: one file, one document; every reason a file is no text; written back as is."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zstandard

from distillguard.scan.formats import Document, Fields, Skipped, Unit, format_of, plain
from distillguard.scan.outdir import prepare_out_dir
from distillguard.scan.plan import plan
from tests.scan.files import files_under, write

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress,
    ".zst": zstandard.ZstdCompressor().compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    yield


def items(path: str) -> list[Document | Skipped]:
    units, skipped = plan([path])
    assert not skipped
    assert all(u.kind == "plain" for u in units)
    return [item for unit in units for item in format_of(unit).read(unit, Fields())]


def docs(path: str) -> list[tuple[str, str]]:
    return [(d.doc, d.text) for d in items(path) if isinstance(d, Document)]


def scan(paths: list[str], out: Path) -> tuple[list[Document], list[Skipped]]:
    """What the engine does, quarantining every document whose text says "bad"."""
    prepare_out_dir(out)
    units, skipped = plan(paths, exclude=out)
    documents: list[Document] = []
    for unit in units:
        sink = format_of(unit).sink(unit, out)
        for item in format_of(unit).read(unit, Fields()):
            if isinstance(item, Skipped):
                skipped.append(item)
            else:
                sink.write(item, "bad" in item.text)
                documents.append(item)
        sink.close()
    return documents, skipped


# --- reading --------------------------------------------------------------------------------


def test_a_file_is_one_document_with_its_bytes() -> None:
    source = "def f():\n    return 'é'\n"
    write("data/a.py", source)
    assert items("data") == [Document("data/a.py", source, source.encode(), nbytes=25)]
    [doc] = items("data")
    assert isinstance(doc, Document) and doc.fields is None and doc.size() == 25


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
        Document("data/late.txt", "a" * 9000 + "\x00", b"a" * 9000 + b"\x00", nbytes=9001),
    ]


def test_invalid_utf8_names_the_byte() -> None:
    write("data/latin1.txt", "café".encode("latin-1"))
    assert items("data") == [Skipped("data/latin1.txt", "invalid UTF-8 at byte 3")]


def tar_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("member.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "container"),
    [
        ("data/a.7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(32), "7z archive"),
        ("data/rows", b"PAR1\x15\x04\x15\x00" + bytes(32) + b"PAR1", "Parquet file"),
        ("data/a.rar", b"Rar!\x1a\x07\x01\x00\xff", "RAR archive"),
        ("data/db.sqlite", b"SQLite format 3\x00" + bytes(84), "SQLite database"),
        ("data/a.npy", b"\x93NUMPY\x01\x00v\x00{'descr'", "NumPy array"),
        ("data/a.lz4", b"\x04\x22\x4d\x18\x64\x40\xa7", "lz4 stream"),
        ("data/bundle.bin", tar_bytes(), "tar archive"),
        ("data/notes.txt", gzip.compress(b"compressed, but not so named"), "gzip stream"),
    ],
)
def test_a_container_is_skipped_as_what_it_is(name: str, data: bytes, container: str) -> None:
    write(name, data)
    assert items("data") == [Skipped(name, f"unsupported container: {container}")]


@pytest.mark.parametrize("codec", list(COMPRESS))
def test_a_compressed_text_file_is_read_through_its_codec(codec: str) -> None:
    text = "# notes\ncafé\n" * 1000
    packed = COMPRESS[codec](text.encode())
    write(f"data/notes.md{codec}", packed)
    assert items("data") == [
        Document(f"data/notes.md{codec}", text, packed, nbytes=len(text.encode()))
    ]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "a.txt.gz",
            "café".encode("latin-1"),
            "invalid UTF-8 at byte 3 (inside its .gz compression)",
        ),
        ("a.bin.zst", b"\x01\x00\x02", "binary file (inside its .zst compression)"),
        (
            "t.parquet.gz",
            b"PAR1\x15\x04" + bytes(16) + b"PAR1",
            "unsupported container: Parquet file (inside its .gz compression)",
        ),
        (
            "b.bin.xz",
            tar_bytes(),
            "unsupported container: tar archive (inside its .xz compression)",
        ),
    ],
)
def test_what_is_inside_a_compressed_file_is_named(name: str, content: bytes, reason: str) -> None:
    write(name, COMPRESS["." + name.rsplit(".", 1)[1]](content))
    assert items(name) == [Skipped(name, reason)]


def test_a_truncated_compressed_file_is_skipped() -> None:
    packed = gzip.compress(b"some text\n" * 1000)
    write("a.txt.gz", packed[:-6])
    assert items("a.txt.gz") == [
        Skipped("a.txt.gz", "truncated gzip stream (ends inside a member)")
    ]


def test_a_file_that_is_not_what_its_suffix_says_is_skipped() -> None:
    write("a.txt.bz2", "plain text, no bzip2")
    [skip] = items("a.txt.bz2")
    assert isinstance(skip, Skipped)
    assert skip.reason.startswith("corrupt bzip2 stream: ")


def test_a_vanished_file_is_skipped_with_the_os_reason() -> None:
    write("data/a.py", "x")
    [unit], _ = plan(["data"])
    os.remove("data/a.py")
    assert list(format_of(unit).read(unit, Fields())) == [
        Skipped("data/a.py", "No such file or directory")
    ]


@pytest.mark.skipif(IS_ROOT, reason="root reads everything")
def test_an_unreadable_file_is_skipped_with_the_os_reason() -> None:
    write("data/a.py", "x")
    os.chmod("data/a.py", 0)
    assert items("data") == [Skipped("data/a.py", "Permission denied")]


def test_decode_text_gives_the_text_or_the_problem() -> None:
    assert plain.decode_text(b"ok \xe2\x82\xac") == "ok €"
    assert plain.decode_text(b"ok \xe2\x82") == plain.Problem("invalid UTF-8 at byte 3")
    assert plain.decode_text(b"\x00") == plain.Problem("binary file")
    assert plain.decode_text(b"PK\x03\x04\x14\x00") == plain.Problem(
        "unsupported container: zip archive"
    )


# --- writing --------------------------------------------------------------------------------


def test_files_round_trip_byte_for_byte(tmp_path: Path) -> None:
    contents: dict[str, bytes] = {
        "a.py": b"print('ok')\n",
        "sub/b.py": b"bad = True\r\n",
        "sub/deeper/c.md": "# caf\u00e9 bad\n".encode(),
        ".hidden": b"ok",
        "empty": b"",
        "image.bin": b"\x00\x01\x02",
        "latin.txt": "caf\u00e9".encode("latin-1"),
        "notes.md.gz": gzip.compress(b"fine notes\n"),
        "more/notes.md.xz": lzma.compress(b"bad notes\n"),
    }
    for name, data in contents.items():
        write(tmp_path / "data" / name, data)
    documents, skipped = scan(["data"], tmp_path / "out")
    assert {s.path for s in skipped} == {"data/image.bin", "data/latin.txt"}
    assert files_under(tmp_path / "out/clean") == {
        k: contents[k] for k in ("a.py", ".hidden", "empty", "notes.md.gz")
    }
    assert files_under(tmp_path / "out/quarantine") == {
        k: contents[k] for k in ("sub/b.py", "sub/deeper/c.md", "more/notes.md.xz")
    }
    assert len(documents) + len(skipped) == len(contents)


def test_one_file_goes_to_clean_under_its_name(tmp_path: Path) -> None:
    write("deep/notes.txt", "fine")
    scan(["deep/notes.txt"], tmp_path / "out")
    assert files_under(tmp_path / "out") == {"clean/notes.txt": b"fine"}


def test_a_sink_that_got_no_document_writes_nothing(tmp_path: Path) -> None:
    write("data/a.py", "x")
    [unit], _ = plan(["data"])
    format_of(unit).sink(unit, tmp_path / "out").close()
    assert not (tmp_path / "out").exists()
    assert plain.FORMAT.records is False  # so the engine makes no empty clean file for it


def test_the_sink_refuses_a_raw_that_is_no_bytes(tmp_path: Path) -> None:
    sink = plain.FORMAT.sink(Unit("a.py", "plain", "a.py", 1), tmp_path)
    with pytest.raises(TypeError):
        sink.write(Document("a", "a", 0), False)
