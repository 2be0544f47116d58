"""Stream codecs of scan inputs and outputs: gzip, zstd, bzip2, xz, by file suffix.

Reading yields the decompressed bytes piece by piece and raises ``InputError`` (after the pieces
decoded before it) on a corrupt or truncated stream; every codec accepts concatenated members or
frames. No piece is larger than a bounded size, whatever the input: gzip, bzip2 and xz are asked
for at most ``READ_CHUNK`` per call, and zstd (which cannot bound its output per call, and
inflates 16 KiB to 512 MiB) is fed ``ZSTD_PIECE`` bytes at a time, at most 32 MiB out. Given
``Limits``, a stream that inflates past ``Limits.inflated`` of its file's size stops with an
``InputError`` naming the bomb.

Writing compresses like the input, at the codec's fastest level: compressing is the dearest step
of a scan. gzip is made by the codec itself (no name, mtime 0, so runs are reproducible), with
ISA-L when ``isal`` is installed (the same format, 2-3x faster).

``sniff`` names the container a file's first bytes announce, so an unsupported one is skipped
with its true reason, never as a "binary file".
"""

from __future__ import annotations

import bz2
import lzma
import os
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from types import MappingProxyType
from typing import Any, BinaryIO

from distillguard.errors import InputError
from distillguard.scan.formats.base import Limits, os_reason

READ_CHUNK = 1 << 20
# Compressed input is fed in small pieces: what a piece decodes to is lost when the decoder
# fails inside it, and zstd cannot bound its output per call.
COMPRESSED_READ_CHUNK = 1 << 16
# zstd's densest block (RLE) turns 4 bytes into 128 KiB: 1 KiB in is at most 32 MiB out, and
# feeding it so costs next to nothing (~5% on ordinary data).
ZSTD_PIECE = 1 << 10
GZIP_LEVEL = 1
ZSTD_LEVEL = 1
BZ2_LEVEL = 1
XZ_PRESET = 0
SUFFIXES = (".gz", ".zst", ".bz2", ".xz")
LABELS = MappingProxyType({".gz": "gzip", ".zst": "zstd", ".bz2": "bzip2", ".xz": "xz"})

MAGIC = (
    (b"\x1f\x8b", "gzip stream"),
    (b"\x28\xb5\x2f\xfd", "zstd stream"),
    (b"BZh", "bzip2 stream"),
    (b"\xfd7zXZ\x00", "xz stream"),
    (b"PK\x03\x04", "zip archive"),
    (b"PK\x05\x06", "zip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\x04\x22\x4d\x18", "lz4 stream"),
    (b"\x89LZO", "lzo stream"),
    (b"PAR1", "Parquet file"),
    (b"ARROW1", "Arrow IPC file"),
    (b"\xff\xff\xff\xff", "Arrow IPC stream"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"\x93NUMPY", "NumPy array"),
)


def codec_of(name: str) -> str | None:
    """The compression suffix of a file name (``.gz``...), or None."""
    lower = name.lower()
    return next((s for s in SUFFIXES if lower.endswith(s)), None)


def strip_codec(name: str) -> str:
    """The name without its compression suffix."""
    codec = codec_of(name)
    return name[: -len(codec)] if codec else name


def sniff(head: bytes) -> str | None:
    """The container a file's first bytes announce (``"7z archive"``...), or None."""
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar archive"
    return next((label for magic, label in MAGIC if head.startswith(magic)), None)


# --- reading --------------------------------------------------------------------------------


def decompressed_chunks(path: str, limits: Limits | None) -> Generator[bytes, None, None]:
    """The decompressed bytes of a file (by its suffix), piece by piece; a read error, a broken
    stream or (with ``limits``) a bomb raises ``InputError`` after the pieces decoded before it.
    ``limits`` None: no ratio cap, for reading again a prefix that was read under one."""
    codec = codec_of(path)
    try:
        with open(path, "rb") as fh:
            if codec is None:
                yield from raw_chunks(fh, READ_CHUNK)
                return
            chunks = decode(codec, raw_chunks(fh, COMPRESSED_READ_CHUNK))
            if limits is not None:
                chunks = capped(chunks, codec, os.fstat(fh.fileno()).st_size, limits)
            yield from chunks
    except OSError as exc:
        raise InputError(os_reason(exc)) from exc


def capped(chunks: Iterable[bytes], codec: str, size: int, limits: Limits) -> Iterator[bytes]:
    """The pieces of a stream of ``size`` compressed bytes, stopped with ``InputError`` before
    the one that takes it past what ``limits`` let it inflate to."""
    budget = limits.inflated(size)
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > budget:
            raise InputError(bomb(codec, size, budget, limits))
        yield chunk


def bomb(codec: str, size: int, budget: int, limits: Limits) -> str:
    """Why a stream that inflates past ``budget`` is not read further."""
    return (
        f"{LABELS.get(codec, codec)} stream inflates past {budget:,} bytes from {size:,} "
        f"(over {limits.ratio}x): a decompression bomb? Not read further; raise the cap with "
        "--max-ratio or [scan] max_ratio to read it"
    )


def decode(codec: str, raw: Iterable[bytes]) -> Iterator[bytes]:
    """Decompress ``raw`` pieces with the codec of suffix ``codec``."""
    if codec == ".gz":
        return _gunzip(raw)
    if codec == ".zst":
        return _unzstd(raw)
    return _unstream(raw, codec)


def decompress(codec: str | None, data: bytes, limit: int) -> bytes | None:
    """All of ``data`` decompressed; None when that is over ``limit`` bytes (it stops there);
    ``InputError`` when the stream is broken."""
    if codec is None:
        return data if len(data) <= limit else None
    pieces = (
        data[i : i + COMPRESSED_READ_CHUNK] for i in range(0, len(data), COMPRESSED_READ_CHUNK)
    )
    return gather(decode(codec, pieces), limit)


def gather(chunks: Iterator[bytes], limit: int) -> bytes | None:
    """The pieces joined; None as soon as they pass ``limit`` bytes (the rest is not read)."""
    parts: list[bytes] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            return None
        parts.append(chunk)
    return b"".join(parts)


def raw_chunks(fh: BinaryIO, size: int) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk


def deflate_module() -> Any:
    """``isal.isal_zlib`` when it is installed, else the standard ``zlib``: an accelerator."""
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib
    return isal_zlib


def _gunzip(raw: Iterable[bytes]) -> Iterator[bytes]:
    """Decompress gzip members one after another (CRC and length are checked by the codec)."""
    codec = deflate_module()
    dec = codec.decompressobj(wbits=31)
    in_member = members = 0
    try:
        for data in raw:
            while data:
                if not in_member and members:
                    data = data.lstrip(b"\0")  # zero padding after a member is allowed
                    if not data:
                        break
                in_member = 1
                out = dec.decompress(data, READ_CHUNK)
                if out:
                    yield out
                if dec.eof:
                    data, dec, in_member, members = dec.unused_data, codec.decompressobj(31), 0, 1
                else:
                    data = dec.unconsumed_tail
    except (zlib.error, codec.error) as exc:
        raise InputError(f"corrupt gzip stream: {exc}") from exc
    if in_member:
        raise InputError("truncated gzip stream (ends inside a member)")


def _unzstd(raw: Iterable[bytes]) -> Iterator[bytes]:
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    pieces = (d[i : i + ZSTD_PIECE] for d in raw for i in range(0, len(d), ZSTD_PIECE))
    return _frames(pieces, dctx.decompressobj, (zstandard.ZstdError,), "zstd", "frame")


def _unstream(raw: Iterable[bytes], codec: str) -> Iterator[bytes]:
    """bzip2 or xz (the standard library's codecs), ``READ_CHUNK`` at most per call."""
    errors = (OSError, EOFError, lzma.LZMAError)
    if codec == ".bz2":
        return _frames(raw, bz2.BZ2Decompressor, errors, "bzip2", "stream", bounded=True)
    return _frames(raw, lzma.LZMADecompressor, errors, "xz", "stream", bounded=True)


def _frames(
    raw: Iterable[bytes],
    new: Callable[[], Any],
    errors: tuple[type[Exception], ...],
    label: str,
    unit: str,
    *,
    bounded: bool = False,
) -> Iterator[bytes]:
    """Decompress frames (streams) one after another with decoders made by ``new``; a stream
    ending inside a frame is truncated, and what the codec raises is a corrupt stream.
    ``bounded``: the decoders take ``max_length`` (and say ``needs_input``)."""
    dec = new()
    in_frame = False
    args = (READ_CHUNK,) if bounded else ()
    try:
        for data in raw:
            while data or (in_frame and bounded and not dec.needs_input):
                in_frame = True
                out = dec.decompress(data, *args)
                if out:
                    yield out
                data = b""
                if dec.eof:
                    data, dec, in_frame = dec.unused_data, new(), False
    except errors as exc:
        raise InputError(f"corrupt {label} stream: {exc}") from exc
    if in_frame:
        raise InputError(f"truncated {label} stream (ends inside a {unit})")


# --- writing --------------------------------------------------------------------------------


def compressor(fh: BinaryIO, name: str) -> Any:
    """A writer with ``write(bytes)`` and ``close()`` (which does not close ``fh``) that
    compresses like the file ``name`` says."""
    codec = codec_of(name)
    if codec == ".gz":
        return _GzipWriter(fh)
    if codec == ".zst":
        import zstandard

        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(fh, closefd=False)
    if codec == ".bz2":
        return _ObjectWriter(fh, bz2.BZ2Compressor(BZ2_LEVEL))
    if codec == ".xz":
        return _ObjectWriter(fh, lzma.LZMACompressor(preset=XZ_PRESET))
    return _Plain(fh)


class _Plain:
    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh

    def write(self, data: bytes) -> None:
        self._fh.write(data)

    def close(self) -> None:
        return None


class _GzipWriter:
    """A gzip stream made by the codec itself: no name, mtime 0, so runs are reproducible."""

    def __init__(self, fh: BinaryIO) -> None:
        codec = deflate_module()
        self._fh = fh
        self._deflate = codec.compressobj(GZIP_LEVEL, codec.DEFLATED, 31)

    def write(self, data: bytes) -> None:
        self._fh.write(self._deflate.compress(data))

    def close(self) -> None:
        self._fh.write(self._deflate.flush())


class _ObjectWriter:
    """A stream through a compressor object of the standard library (bz2, lzma)."""

    def __init__(self, fh: BinaryIO, comp: Any) -> None:
        self._fh = fh
        self._comp = comp

    def write(self, data: bytes) -> None:
        self._fh.write(self._comp.compress(data))

    def close(self) -> None:
        self._fh.write(self._comp.flush())


def compress(name: str, data: bytes) -> bytes:
    """``data`` compressed like the file ``name`` says (unchanged without a codec suffix)."""
    import io

    buf = io.BytesIO()
    out = compressor(buf, name)
    out.write(data)
    out.close()
    return buf.getvalue()
