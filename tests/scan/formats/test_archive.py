"""Archives as scan units: members as documents, what is skipped and why, writing back."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import string
import struct
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from distillguard.scan.formats import archive
from distillguard.scan.formats.base import Document, Fields, Limits, Skipped, Unit
from distillguard.scan.formats.codecs import sniff

TAR_CODECS: dict[str, Callable[[bytes], bytes]] = {
    ".tar": bytes,
    ".tgz": gzip.compress,
    ".tar.gz": gzip.compress,
    ".tar.bz2": bz2.compress,
    ".tar.xz": lzma.compress,
    ".tar.zst": zstandard.ZstdCompressor().compress,
}
TAR_MAGIC = {
    ".tar": "tar archive",
    ".tgz": "gzip stream",
    ".tar.gz": "gzip stream",
    ".tar.bz2": "bzip2 stream",
    ".tar.xz": "xz stream",
    ".tar.zst": "zstd stream",
}
LONG_NAME = "deep/" + "x" * 120 + ".txt"

Members = list[tuple[str, bytes]]


# --- building and reading archives ----------------------------------------------------------


def tar_info(name: str, size: int, n: int) -> tarfile.TarInfo:
    """A header whose metadata differs per member, to check it is kept."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 1_700_000_000 + n
    info.mode = 0o600 + n
    info.uid, info.gid = 1000 + n, 2000 + n
    info.uname, info.gname = f"user{n}", f"group{n}"
    return info


def tar_bytes(members: Members, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info in extra or []:
            tf.addfile(info)
        for n, (name, data) in enumerate(members):
            tf.addfile(tar_info(name, len(data), n), io.BytesIO(data))
    return buf.getvalue()


def make_tar(path: Path, members: Members, extra: list[tarfile.TarInfo] | None = None) -> Path:
    path.write_bytes(TAR_CODECS[suffix_of(path)](tar_bytes(members, extra)))
    return path


def suffix_of(path: Path) -> str:
    return next(s for s in sorted(TAR_CODECS, key=len, reverse=True) if path.name.endswith(s))


def open_tar(path: Path) -> tarfile.TarFile:
    if path.name.endswith(".zst"):
        raw = zstandard.ZstdDecompressor().stream_reader(path.read_bytes()).read()
        return tarfile.open(fileobj=io.BytesIO(raw))
    return tarfile.open(path)


def tar_contents(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with open_tar(path) as tf:
        return [(info, extracted(tf, info)) for info in tf.getmembers()]


def extracted(tf: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    fh = tf.extractfile(info)
    assert fh is not None
    return fh.read()


ZIP_METHODS = (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def zip_info(name: str, n: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2020, 1 + n, 2, 3, 4, 6))
    info.external_attr = (0o100600 + n) << 16
    info.compress_type = ZIP_METHODS[n % len(ZIP_METHODS)]
    return info


def make_zip(
    path: Path, members: Members, extra: list[tuple[zipfile.ZipInfo, bytes]] | None = None
) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in extra or []:
            zf.writestr(info, data)
        for n, (name, data) in enumerate(members):
            zf.writestr(zip_info(name, n), data)
    return path


def zip_contents(path: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return [(info, zf.read(info)) for info in zf.infolist()]


def directory_entry(data: bytes | bytearray, name: str) -> int:
    """Where a member's central directory entry starts."""
    at = data.index(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(name)] != name.encode():
        at = data.index(b"PK\x01\x02", at + 1)
    return at


def mark_encrypted(path: Path, name: str) -> None:
    """Set a member's encryption flag (zipfile writes no encrypted member)."""
    with zipfile.ZipFile(path) as zf:
        local = zf.getinfo(name).header_offset
    data = bytearray(path.read_bytes())
    data[local + 6] |= 0x1
    data[directory_entry(data, name) + 8] |= 0x1
    path.write_bytes(bytes(data))


def unit_of(path: Path) -> Unit:
    return Unit(str(path), "archive", path.name, path.stat().st_size)


def read(path: Path, limits: Limits | None = None) -> list[Document | Skipped]:
    return list(archive.FORMAT.read(unit_of(path), Fields(limits=limits or Limits())))


def names(items: list[Document | Skipped]) -> list[str]:
    return [item.doc for item in items if isinstance(item, Document)]


def skipped(items: list[Document | Skipped]) -> list[tuple[str, str]]:
    return [(item.path, item.reason) for item in items if isinstance(item, Skipped)]


def scan(path: Path, out: Path) -> list[Document | Skipped]:
    """What the engine does, with ``"bad" in text`` as the matcher."""
    (out / "clean").mkdir(parents=True, exist_ok=True)
    (out / "quarantine").mkdir(exist_ok=True)
    unit = unit_of(path)
    sink = archive.FORMAT.sink(unit, out)
    items = []
    for item in archive.FORMAT.read(unit, Fields()):
        if isinstance(item, Document):
            sink.write(item, "bad" in item.text)
        items.append(item)
    sink.close()
    return items


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


# --- reading --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", list(TAR_CODECS))
def test_tar_members_are_documents_named_path_colon_member(tmp_path: Path, suffix: str) -> None:
    directory = tarfile.TarInfo("docs")
    directory.type = tarfile.DIRTYPE
    members = [("docs/a.txt", b"alpha\n"), ("b.txt", b"\xef\xbb\xbfbeta"), (LONG_NAME, b"long")]
    path = make_tar(tmp_path / f"set{suffix}", members, [directory])
    items = read(path)
    assert names(items) == [f"{path}:docs/a.txt", f"{path}:b.txt", f"{path}:{LONG_NAME}"]
    docs = [item for item in items if isinstance(item, Document)]
    assert [doc.text for doc in docs] == ["alpha\n", "\ufeffbeta", "long"]  # the BOM is kept
    assert skipped(items) == []


def test_zip_members_are_documents_in_archive_order(tmp_path: Path) -> None:
    members = [("z.txt", b"zed"), ("dir/a.txt", b"\xef\xbb\xbfa"), ("m.txt", b"em")]
    path = make_zip(tmp_path / "set.zip", members, [(zipfile.ZipInfo("dir/"), b"")])
    items = read(path)
    assert names(items) == [f"{path}:z.txt", f"{path}:dir/a.txt", f"{path}:m.txt"]
    assert [item.text for item in items if isinstance(item, Document)] == ["zed", "\ufeffa", "em"]


def special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_tar_skips_what_is_not_a_text_file_and_says_why(tmp_path: Path) -> None:
    nested_zip = make_zip(tmp_path / "inner.zip", [("x.txt", b"x")]).read_bytes()
    members = [
        ("ok.txt", b"fine"),
        ("blob.bin", b"\x01\x00\x02"),
        ("inner.gz", gzip.compress(b"hidden")),
        ("inner.zip", nested_zip),
        ("inner.tar", tar_bytes([("x.txt", b"x")])),
        ("latin1.txt", b"caf\xe9"),
    ]
    links = [
        special("sym", tarfile.SYMTYPE, "ok.txt"),
        special("hard", tarfile.LNKTYPE, "ok.txt"),
        special("pipe", tarfile.FIFOTYPE),
        special("tty", tarfile.CHRTYPE),
    ]
    path = make_tar(tmp_path / "mixed.tar", members, links)
    items = read(path)
    assert names(items) == [f"{path}:ok.txt"]
    assert skipped(items) == [
        (f"{path}:sym", "symlink to ok.txt: not followed"),
        (f"{path}:hard", "hard link to ok.txt: not followed"),
        (f"{path}:pipe", "not a regular file (FIFO)"),
        (f"{path}:tty", "not a regular file (character device)"),
        (f"{path}:blob.bin", "binary file"),
        (f"{path}:inner.gz", "nested gzip stream: not read"),
        (f"{path}:inner.zip", "nested zip archive: not read"),
        (f"{path}:inner.tar", "nested tar archive: not read"),
        (f"{path}:latin1.txt", "invalid UTF-8 at byte 3"),
    ]


def test_zip_skips_links_binaries_and_encrypted_members(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("link")
    link.external_attr = 0o120777 << 16
    members = [("ok.txt", b"fine"), ("inner.tgz", gzip.compress(tar_bytes([("x", b"x")])))]
    extra = [(link, b"ok.txt"), (zipfile.ZipInfo("locked.txt"), b"secret")]
    path = make_zip(tmp_path / "mixed.zip", [*members, ("bad.txt", b"ok\xc3\x28")], extra)
    mark_encrypted(path, "locked.txt")
    items = read(path)
    assert names(items) == [f"{path}:ok.txt"]
    assert skipped(items) == [
        (f"{path}:link", "symlink: not followed"),
        (f"{path}:locked.txt", "encrypted member"),
        (f"{path}:inner.tgz", "nested gzip stream: not read"),
        (f"{path}:bad.txt", "invalid UTF-8 at byte 2"),
    ]


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tar.zst", ".zip"])
def test_a_member_over_the_cap_is_skipped_unread(tmp_path: Path, suffix: str) -> None:
    members = [("small.txt", b"0123456789"), ("big.txt", b"x" * 11), ("after.txt", b"after")]
    maker = make_zip if suffix == ".zip" else make_tar
    path = maker(tmp_path / f"big{suffix}", members)
    items = read(path, Limits(document_bytes=10))
    assert names(items) == [f"{path}:small.txt", f"{path}:after.txt"]
    [(where, reason)] = skipped(items)
    assert where == f"{path}:big.txt"
    assert reason == (
        "member too large (11 bytes > the 10-byte cap); raise it with --max-document-bytes "
        "or [scan] max_document_bytes"
    )


def test_a_compressed_tar_inflating_past_the_ratio_stops_there(tmp_path: Path) -> None:
    members = [("a.txt", b"first"), ("zeros.txt", b"\0" * (8 << 20)), ("b.txt", b"after")]
    path = make_tar(tmp_path / "bomb.tar.gz", members)
    items = read(path, Limits(document_bytes=1 << 20, ratio=10))
    assert names(items) == [f"{path}:a.txt"]
    (member, too_large), (where, bomb) = skipped(items)
    assert member == f"{path}:zeros.txt" and too_large.startswith("member too large")
    assert where == str(path)
    assert bomb.startswith(f"gzip stream inflates past {1 << 20:,} bytes from ")
    assert bomb.endswith("; read stopped after member zeros.txt")


def test_a_zip_member_of_absurd_compression_ratio_is_a_bomb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "BOMB_MIN_BYTES", 1 << 16)
    path = make_zip(tmp_path / "bomb.zip", [("zeros.txt", b"a" * (1 << 20)), ("a.txt", b"a")])
    [(where, reason)] = skipped(read(path))
    assert where == f"{path}:zeros.txt"
    assert reason.startswith("compression ratio ") and reason.endswith(":1 (zip bomb?): not read")


def test_zip_members_that_overlap_are_not_read(tmp_path: Path) -> None:
    """The overlapping-entries bomb: a second directory entry pointing into the first."""
    path = make_zip(tmp_path / "overlap.zip", [("a.txt", b"alpha"), ("b.txt", b"alpha")])
    data = bytearray(path.read_bytes())
    entry = directory_entry(data, "b.txt")
    data[entry + 42 : entry + 46] = struct.pack("<I", 0)  # its local header: a.txt's
    path.write_bytes(bytes(data))
    items = read(path)
    assert names(items) == [f"{path}:a.txt"]
    assert skipped(items) == [
        (f"{path}:b.txt", "overlaps the member before it (zip bomb?): not read")
    ]


def noise(n: int) -> bytes:
    rng = random.Random(7)
    return "".join(rng.choices(string.ascii_letters, k=n)).encode()


def test_a_truncated_tar_gz_keeps_the_members_before_the_break(tmp_path: Path) -> None:
    members = [("a.txt", b"first"), ("b.txt", noise(200_000)), ("c.txt", b"third")]
    whole = make_tar(tmp_path / "whole.tar.gz", members).read_bytes()
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(whole[: len(whole) * 3 // 4])  # inside b.txt
    items = read(path)
    assert names(items) == [f"{path}:a.txt"]
    assert skipped(items) == [
        (str(path), "truncated gzip stream (ends inside a member); read stopped after member a.txt")
    ]


def test_a_corrupt_gzip_trailer_is_found_after_the_last_member(tmp_path: Path) -> None:
    """The stream is decoded to its end, past what tar reads (here 200 KB after its end)."""
    data = bytearray(
        gzip.compress(tar_bytes([("a.txt", b"first"), ("b.txt", b"second")]) + noise(200_000))
    )
    data[-6] ^= 0xFF  # the CRC
    path = tmp_path / "crc.tar.gz"
    path.write_bytes(bytes(data))
    items = read(path)
    assert names(items) == [f"{path}:a.txt", f"{path}:b.txt"]
    [(where, reason)] = skipped(items)  # the codec's words differ with ISA-L
    assert where == str(path)
    assert reason.startswith("corrupt gzip stream: ")
    assert reason.endswith("; read stopped after member b.txt")


@pytest.mark.parametrize(
    ("cut", "reason"),
    [
        (1024, "truncated tar archive: no end-of-archive marker"),
        (1300, "corrupt tar header: truncated header"),
        (1536 + 3, "corrupt or truncated tar archive: unexpected end of data"),
    ],
)
def test_a_cut_plain_tar_says_where_it_broke(tmp_path: Path, cut: int, reason: str) -> None:
    data = make_tar(tmp_path / "t.tar", [("a.txt", b"first"), ("b.txt", b"second")]).read_bytes()
    path = tmp_path / "cut.tar"  # a.txt: header 0-512, data 512-1024; b.txt: header 1024-1536
    path.write_bytes(data[:cut])
    items = read(path)
    assert names(items) == [f"{path}:a.txt"]
    assert skipped(items) == [(str(path), f"{reason}; read stopped after member a.txt")]


def test_a_corrupt_header_after_the_first_is_not_taken_for_the_end(tmp_path: Path) -> None:
    members = [("a.txt", b"first"), ("b.txt", b"second"), ("c.txt", b"third")]
    data = bytearray(make_tar(tmp_path / "t.tar", members).read_bytes())
    data[1024 + 10] ^= 0xFF  # inside b.txt's header
    path = tmp_path / "bad.tar"
    path.write_bytes(bytes(data))
    items = read(path)
    assert names(items) == [f"{path}:a.txt"]
    assert skipped(items) == [
        (str(path), "corrupt tar header: bad checksum; read stopped after member a.txt")
    ]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.zip", b"just some notes\n", "not a zip archive (text)"),
        ("packed.zip", gzip.compress(b"x"), "not a zip archive (gzip stream)"),
        ("empty.zip", b"", "not a zip archive (empty)"),
        ("plain.tar.gz", tar_bytes([("a", b"a")]), "not a gzip stream (tar archive)"),
        ("wrong.tar.zst", gzip.compress(b"x"), "not a zstd stream (gzip stream)"),
        ("text.tar.gz", gzip.compress(b"hello"), "not a tar archive inside the gzip stream (text)"),
        ("zipped.tar", b"PK\x03\x04" + bytes(600), "not a tar archive (zip archive)"),
        ("notes.tar", b"hello " * 200, "not a tar archive (text)"),
        ("empty.tar", b"", "not a tar archive (empty)"),
    ],
)
def test_a_file_that_is_not_the_archive_its_name_says(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert read(path) == [Skipped(str(path), reason)]


def test_a_truncated_zip_is_named_as_such(tmp_path: Path) -> None:
    data = make_zip(tmp_path / "a.zip", [("a.txt", b"a" * 1000)]).read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(data[:-30])
    [item] = read(path)
    assert item == Skipped(str(path), "corrupt or truncated zip archive: File is not a zip file")


def test_a_corrupt_zip_member_is_skipped_alone(tmp_path: Path) -> None:
    members = [("a.txt", b"alpha"), ("b.txt", noise(5000)), ("c.txt", b"gamma")]
    path = make_zip(tmp_path / "crc.zip", members)
    data = bytearray(path.read_bytes())
    data[data.index(b"b.txt") + 5 + 100] ^= 0xFF  # inside b.txt's deflated data
    path.write_bytes(bytes(data))
    items = read(path)
    assert names(items) == [f"{path}:a.txt", f"{path}:c.txt"]
    [(where, reason)] = skipped(items)
    assert where == f"{path}:b.txt" and reason.startswith("corrupt member: ")


def test_a_missing_file_is_skipped_with_the_os_reason(tmp_path: Path) -> None:
    path = tmp_path / "gone.tar"
    unit = Unit(str(path), "archive", "gone.tar", 0)
    items = list(archive.FORMAT.read(unit, Fields()))
    assert items == [Skipped(str(path), "No such file or directory")]


# --- writing --------------------------------------------------------------------------------

MIXED: Members = [
    ("keep1.txt", b"good one"),
    ("drop1.txt", b"a bad one"),
    (LONG_NAME, b"good, long name"),
    ("drop2.txt", b"bad again"),
    ("keep3.txt", b"\xef\xbb\xbfgood with BOM"),
]

SIDES = {"clean": ["keep1.txt", LONG_NAME, "keep3.txt"], "quarantine": ["drop1.txt", "drop2.txt"]}


def tar_meta(info: tarfile.TarInfo) -> tuple[object, ...]:
    return (info.name, info.mode, int(info.mtime), info.uid, info.gid, info.uname, info.gname)


@pytest.mark.parametrize("suffix", list(TAR_CODECS))
def test_tar_round_trip_splits_members_keeping_bytes_and_headers(
    tmp_path: Path, out: Path, suffix: str
) -> None:
    path = make_tar(tmp_path / f"in{suffix}", [*MIXED, ("blob.bin", b"\0\0")])
    scan(path, out)
    source = {info.name: (tar_meta(info), data) for info, data in tar_contents(path)}
    for side, kept in SIDES.items():
        written = out / side / path.name
        assert sniff(written.read_bytes()[:1024]) == TAR_MAGIC[suffix]  # same compression
        contents = tar_contents(written)
        assert [info.name for info, _ in contents] == kept
        assert all(source[info.name] == (tar_meta(info), data) for info, data in contents)


def zip_meta(info: zipfile.ZipInfo) -> tuple[object, ...]:
    return (info.filename, info.date_time, info.external_attr, info.compress_type)


def test_zip_round_trip_splits_members_keeping_bytes_and_zipinfo(tmp_path: Path, out: Path) -> None:
    path = make_zip(tmp_path / "in.zip", [*MIXED, ("blob.bin", b"\0\0")])
    scan(path, out)
    source = {info.filename: (zip_meta(info), data) for info, data in zip_contents(path)}
    for side, kept in SIDES.items():
        contents = zip_contents(out / side / "in.zip")
        assert [info.filename for info, _ in contents] == kept
        assert all(source[info.filename] == (zip_meta(info), data) for info, data in contents)


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tar.xz", ".tar.zst", ".zip"])
def test_an_archive_all_clean_and_whole_is_copied_byte_for_byte(
    tmp_path: Path, out: Path, suffix: str
) -> None:
    members = [("a.txt", b"one"), ("b.txt", b"two"), ("c.txt", b"three")]
    maker = make_zip if suffix == ".zip" else make_tar
    path = maker(tmp_path / f"in{suffix}", members)
    scan(path, out)
    assert (out / "clean" / path.name).read_bytes() == path.read_bytes()
    assert not (out / "quarantine" / path.name).exists()


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_an_all_clean_archive_with_a_skipped_member_is_rewritten(
    tmp_path: Path, out: Path, suffix: str
) -> None:
    members = [("a.txt", b"one"), ("blob.bin", b"\0"), ("c.txt", b"three")]
    maker = make_zip if suffix == ".zip" else make_tar
    path = maker(tmp_path / f"in{suffix}", members)
    scan(path, out)
    written = out / "clean" / path.name
    listed = (
        [i.filename for i, _ in zip_contents(written)]
        if suffix == ".zip"
        else [i.name for i, _ in tar_contents(written)]
    )
    assert listed == ["a.txt", "c.txt"]


def test_a_broken_archive_writes_only_what_was_read(tmp_path: Path, out: Path) -> None:
    members = [("a.txt", b"first"), ("bad.txt", b"bad"), ("c.txt", noise(200_000))]
    whole = make_tar(tmp_path / "whole.tar.gz", members).read_bytes()
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(whole[: len(whole) * 3 // 4])
    scan(path, out)
    assert [(i.name, d) for i, d in tar_contents(out / "clean" / path.name)] == [
        ("a.txt", b"first")
    ]
    assert [i.name for i, _ in tar_contents(out / "quarantine" / path.name)] == ["bad.txt"]


def test_a_sink_closed_before_the_read_ends_does_not_copy(tmp_path: Path, out: Path) -> None:
    path = make_tar(tmp_path / "in.tar.gz", [("a.txt", b"one"), ("b.txt", b"two")])
    (out / "clean").mkdir(parents=True)
    unit = unit_of(path)
    sink = archive.FORMAT.sink(unit, out)
    items = archive.FORMAT.read(unit, Fields())
    first = next(iter(items))
    assert isinstance(first, Document)
    sink.write(first, False)
    sink.close()
    assert [i.name for i, _ in tar_contents(out / "clean" / path.name)] == ["a.txt"]


@pytest.mark.parametrize("suffix", [".tar", ".tgz", ".tar.bz2", ".tar.zst", ".zip"])
def test_an_empty_archive_gets_an_empty_clean_archive(
    tmp_path: Path, out: Path, suffix: str
) -> None:
    maker = make_zip if suffix == ".zip" else make_tar
    path = maker(tmp_path / f"empty{suffix}", [])
    assert scan(path, out) == []
    written = out / "clean" / path.name
    count = len(zip_contents(written)) if suffix == ".zip" else len(tar_contents(written))
    assert count == 0
    assert not (out / "quarantine" / path.name).exists()


def test_an_archive_of_only_skipped_members_gets_an_empty_clean_archive(
    tmp_path: Path, out: Path
) -> None:
    path = make_tar(tmp_path / "bin.tar.gz", [("blob.bin", b"\0\1")])
    assert skipped(scan(path, out)) == [(f"{path}:blob.bin", "binary file")]
    assert tar_contents(out / "clean" / path.name) == []


def test_all_quarantined_writes_no_clean_archive(tmp_path: Path, out: Path) -> None:
    path = make_zip(tmp_path / "all.zip", [("a.txt", b"bad"), ("b.txt", b"bad too")])
    scan(path, out)
    assert [i.filename for i, _ in zip_contents(out / "quarantine" / "all.zip")] == [
        "a.txt",
        "b.txt",
    ]
    assert not (out / "clean" / "all.zip").exists()


def test_the_sink_refuses_a_document_of_another_format(tmp_path: Path, out: Path) -> None:
    path = make_tar(tmp_path / "in.tar", [("a.txt", b"bad")])
    sink = archive.FORMAT.sink(unit_of(path), out)
    with pytest.raises(TypeError, match="expected an archive member"):
        sink.write(Document("x", "bad", b"bad"), True)
