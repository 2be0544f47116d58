"""Codecs: what each file's first bytes announce, and every codec both ways, whole or broken."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from collections.abc import Callable
from pathlib import Path
from random import Random

import pytest
import zstandard

from distillguard.errors import InputError
from distillguard.scan.formats.base import Limits
from distillguard.scan.formats.codecs import (
    COMPRESSED_READ_CHUNK,
    READ_CHUNK,
    codec_of,
    compress,
    compressor,
    decode,
    decompressed_chunks,
    sniff,
    strip_codec,
)
from distillguard.scan.formats.codecs import decompress as bounded_decompress

CODECS = [".gz", ".zst", ".bz2", ".xz"]
LABELS = {".gz": "gzip", ".zst": "zstd", ".bz2": "bzip2", ".xz": "xz"}
# What each codec's own library makes (default levels, headers and all).
THEIRS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress,
    ".zst": zstandard.ZstdCompressor().compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
}


def decompress(codec: str | None, data: bytes) -> bytes:
    """All of ``data`` decompressed, with no cap that a test could reach."""
    out = bounded_decompress(codec, data, 1 << 40)
    assert out is not None
    return out


def theirs_decompress(codec: str, data: bytes) -> bytes:
    if codec == ".zst":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    undo: dict[str, Callable[[bytes], bytes]] = {
        ".gz": gzip.decompress,
        ".bz2": bz2.decompress,
        ".xz": lzma.decompress,
    }
    return undo[codec](data)


def sample(size: int, seed: int = 0) -> bytes:
    rng = Random(seed)
    return bytes(rng.choices(b"abcdefgh \n", k=size))


# --- sniff ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "label"),
    [
        (gzip.compress(b"x"), "gzip stream"),
        (zstandard.ZstdCompressor().compress(b"x"), "zstd stream"),
        (bz2.compress(b"x"), "bzip2 stream"),
        (lzma.compress(b"x"), "xz stream"),
        (b"PK\x03\x04rest", "zip archive"),
        (b"PK\x05\x06" + bytes(18), "zip archive"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z archive"),
        (b"Rar!\x1a\x07\x01\x00", "RAR archive"),
        (b"\x04\x22\x4d\x18\x64\x40", "lz4 stream"),
        (b"\x89LZO\x00\r\n\x1a\n", "lzo stream"),
        (b"PAR1\x15\x04", "Parquet file"),
        (b"ARROW1\x00\x00", "Arrow IPC file"),
        (b"\xff\xff\xff\xff\x10\x00", "Arrow IPC stream"),
        (b"SQLite format 3\x00\x10\x00", "SQLite database"),
        (b"\x93NUMPY\x01\x00", "NumPy array"),
    ],
)
def test_sniff_names_each_container(head: bytes, label: str) -> None:
    assert sniff(head) == label


def test_sniff_finds_a_tar_by_its_ustar_mark() -> None:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    assert sniff(buf.getvalue()[:8192]) == "tar archive"
    assert sniff(bytes(257) + b"ustar") is None  # too short to hold the whole header field


@pytest.mark.parametrize(
    "head", [b"", b"plain text", b'{"text": "a"}', b"\x89PNG\r\n\x1a\n", b"PAR", b"7z"]
)
def test_sniff_names_nothing_else(head: bytes) -> None:
    assert sniff(head) is None


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "codec", "stripped"),
    [
        ("a.jsonl.gz", ".gz", "a.jsonl"),
        ("A.JSONL.GZ", ".gz", "A.JSONL"),
        ("a.jsonl.zst", ".zst", "a.jsonl"),
        ("a.jsonl.bz2", ".bz2", "a.jsonl"),
        ("dir/a.json.XZ", ".xz", "dir/a.json"),
        ("a.jsonl", None, "a.jsonl"),
        ("a.tgz", None, "a.tgz"),
        ("gz", None, "gz"),
        ("a.gzip", None, "a.gzip"),
    ],
)
def test_codec_of_and_strip_codec(name: str, codec: str | None, stripped: str) -> None:
    assert codec_of(name) == codec
    assert strip_codec(name) == stripped


# --- both ways ------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("size", [0, 1, 5 * COMPRESSED_READ_CHUNK + 7])
def test_compress_then_decompress_is_the_data(codec: str, size: int) -> None:
    data = sample(size)
    packed = compress(f"x.jsonl{codec}", data)
    assert decompress(codec, packed) == data
    assert theirs_decompress(codec, packed) == data  # a standard stream, not a private one


@pytest.mark.parametrize("codec", CODECS)
def test_decompress_reads_what_the_codecs_own_library_makes(codec: str) -> None:
    data = sample(3 * COMPRESSED_READ_CHUNK, seed=1)
    assert decompress(codec, THEIRS[codec](data)) == data


@pytest.mark.parametrize("codec", CODECS)
def test_concatenated_members_or_frames_are_read_one_after_another(codec: str) -> None:
    a, b = sample(1000, 2), sample(70_000, 3)
    packed = THEIRS[codec](a) + compress(f"x{codec}", b)
    assert decompress(codec, packed) == a + b


def test_zero_padding_after_a_gzip_member_is_allowed() -> None:
    assert decompress(".gz", gzip.compress(b"a") + bytes(64) + gzip.compress(b"b")) == b"ab"
    assert decompress(".gz", gzip.compress(b"a") + bytes(64)) == b"a"


def test_no_codec_leaves_the_data_alone() -> None:
    assert compress("x.jsonl", b"abc") == b"abc"
    assert decompress(None, b"\x1f\x8b not really") == b"\x1f\x8b not really"


def test_gzip_output_is_reproducible_no_name_no_time() -> None:
    first = compress("x.gz", b"same bytes\n" * 100)
    assert compress("x.gz", b"same bytes\n" * 100) == first
    assert first[3] == 0  # flags: no file name, no comment, no extra field
    assert first[4:8] == bytes(4)  # mtime 0


@pytest.mark.parametrize("codec", CODECS)
def test_the_compressor_leaves_its_file_open(codec: str) -> None:
    buf = io.BytesIO()
    out = compressor(buf, f"x{codec}")
    out.write(b"one\n")
    out.write(b"two\n")
    out.close()
    assert not buf.closed
    assert theirs_decompress(codec, buf.getvalue()) == b"one\ntwo\n"


# --- broken streams -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "inside"),
    [(".gz", "member"), (".zst", "frame"), (".bz2", "stream"), (".xz", "stream")],
)
def test_a_truncated_stream_says_so(codec: str, inside: str) -> None:
    packed = THEIRS[codec](sample(200_000, 4))
    with pytest.raises(InputError) as info:
        decompress(codec, packed[: len(packed) - 5])
    assert str(info.value) == f"truncated {LABELS[codec]} stream (ends inside a {inside})"


@pytest.mark.parametrize("codec", CODECS)
def test_a_stream_of_another_kind_is_corrupt(codec: str) -> None:
    with pytest.raises(InputError, match=rf"^corrupt {LABELS[codec]} stream: \S"):
        decompress(codec, b"this is not a compressed stream at all\n" * 10)


@pytest.mark.parametrize("codec", CODECS)
def test_garbage_after_a_whole_stream_is_corrupt(codec: str) -> None:
    with pytest.raises(InputError, match=rf"^corrupt {LABELS[codec]} stream: "):
        decompress(codec, THEIRS[codec](b"fine\n") + b"trailing junk that is no stream")


@pytest.mark.parametrize("codec", CODECS)
def test_decompressed_chunks_gives_the_pieces_before_a_break(tmp_path: Path, codec: str) -> None:
    data = sample(2_000_000, 5)
    packed = compress(f"x{codec}", data)
    path = tmp_path / f"x{codec}"
    path.write_bytes(packed[: len(packed) // 2])
    got: list[bytes] = []
    with pytest.raises(InputError, match=f"truncated {LABELS[codec]} stream"):
        got.extend(decompressed_chunks(str(path), Limits()))
    joined = b"".join(got)
    assert 0 < len(joined) < len(data)
    assert data.startswith(joined)


def test_decompressed_chunks_of_a_plain_file_is_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(sample(3_000_000, 6))
    assert b"".join(decompressed_chunks(str(path), Limits())) == path.read_bytes()


def test_a_missing_file_is_an_input_error_with_the_os_reason(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^No such file or directory$"):
        list(decompressed_chunks(str(tmp_path / "gone.jsonl.gz"), Limits()))


# --- bounds ---------------------------------------------------------------------------------


def zstd_bomb(size: int) -> bytes:
    """zstd at its densest (RLE blocks): ``size`` newlines in a few KiB."""
    return zstandard.ZstdCompressor(level=19).compress(b"\n" * size)


def test_no_codec_gives_one_piece_larger_than_a_bound() -> None:
    """zstd turns 16 KiB into 512 MiB in one call; fed 1 KiB at a time it stays near 32 MiB,
    and the others are asked for at most a read chunk per call."""
    for codec in CODECS:
        packed = zstd_bomb(256 << 20) if codec == ".zst" else THEIRS[codec](b"\n" * (64 << 20))
        step = COMPRESSED_READ_CHUNK
        pieces = decode(codec, (packed[i : i + step] for i in range(0, len(packed), step)))
        largest = max(len(piece) for piece in pieces)
        assert largest <= (32 << 20 if codec == ".zst" else READ_CHUNK), codec


@pytest.mark.parametrize("codec", CODECS)
def test_a_stream_past_the_ratio_stops_with_the_pieces_before_it(
    tmp_path: Path, codec: str
) -> None:
    data = b"\n" * (8 << 20)
    packed = zstd_bomb(len(data)) if codec == ".zst" else THEIRS[codec](data)
    path = tmp_path / f"x.jsonl{codec}"
    path.write_bytes(packed)
    limits = Limits(document_bytes=1 << 20, ratio=2)
    got: list[bytes] = []
    budget = max(1 << 20, 2 * len(packed))
    message = f"^{LABELS[codec]} stream inflates past {budget:,} bytes from {len(packed):,} "
    with pytest.raises(InputError, match=message + r"\(over 2x\): a decompression bomb\?"):
        got.extend(decompressed_chunks(str(path), limits))
    assert sum(map(len, got)) <= budget
    assert b"".join(decompressed_chunks(str(path), None)) == data  # no cap: read again whole


def test_a_stream_within_the_ratio_is_read_whole(tmp_path: Path) -> None:
    data = sample(3_000_000, 7)
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(gzip.compress(data))
    assert b"".join(decompressed_chunks(str(path), Limits(document_bytes=1, ratio=10))) == data


def test_decompress_stops_at_its_limit() -> None:
    packed = gzip.compress(b"x" * 5000)
    assert bounded_decompress(".gz", packed, 5000) == b"x" * 5000
    assert bounded_decompress(".gz", packed, 4999) is None
    assert bounded_decompress(None, b"abc", 2) is None
