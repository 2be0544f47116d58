"""Archives (tar, compressed tar, zip): every regular-file member is one plain document.

A member is read like a plain file (strict UTF-8, byte-order mark kept, a NUL in its first
8 KiB makes it binary) and named ``PATH:MEMBER``, the member's name as stored. Directory
entries are not documents; links, devices, FIFOs, binary or nested archives, invalid UTF-8,
members over ``Limits.document_bytes`` and zip-bomb shapes (a member inflating over
``Limits.ratio`` times its stored size past ``BOMB_MIN_BYTES``, overlapping members) are
``Skipped`` with the reason; a compressed tar stream stops at the ratio cap like a broken one.

Reading streams: a tar (plain, ``.tgz``/``.tar.gz``, ``.tar.bz2``, ``.tar.xz``, ``.tar.zst``)
goes through the scan codecs into ``tarfile``'s stream mode, holding one member at a time; a
zip is read through its central directory in the order of the members in the file. When a tar
breaks (a truncated or corrupt stream, a bad header, no end-of-archive marker), the members
before the break stay documents and one ``Skipped`` for the archive says what broke and after
which member. A zip member that cannot be read is skipped alone: the others do not depend on it.

Writing: ``clean/`` and ``quarantine/`` get archives of the input's type and compression with
the members of each side in input order, headers kept (name, mode, mtime, owner for tar;
``ZipInfo`` date, attributes and compression method for zip). Directory entries are not carried
over. While every document so far is clean nothing is written (compressing is the dearest
step): an archive read whole, with every member a clean document and nothing skipped, is copied
as it is; otherwise the clean members held back are read again from the input and written.
"""

from __future__ import annotations

import copy
import io
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from types import MappingProxyType
from typing import IO, BinaryIO, Self, cast

from distillguard.errors import InputError
from distillguard.scan.formats import codecs
from distillguard.scan.formats.base import (
    BINARY_SNIFF,
    CLEAN,
    Document,
    Fields,
    Format,
    Limits,
    Skipped,
    Unit,
    copy_file,
    open_for_write,
    os_reason,
    side_of,
)

# A zip member inflating over Limits.ratio times its stored size, and past BOMB_MIN_BYTES, is a
# bomb, not data (deflate itself tops out near 1032:1).
BOMB_MIN_BYTES = 8 << 20
ZIP_LEVEL = 1
ZIP_ENCRYPTED = 0x1
ZIP_LOCAL_HEADER = 30  # the fixed part of a local file header, before its name and extra field
TAR_SUFFIXES = (
    (".tar", None),
    (".tgz", ".gz"),
    (".tar.gz", ".gz"),
    (".tar.bz2", ".bz2"),
    (".tar.xz", ".xz"),
    (".tar.zst", ".zst"),
)
STREAM_LABELS = MappingProxyType(
    {".gz": "gzip stream", ".bz2": "bzip2 stream", ".xz": "xz stream", ".zst": "zstd stream"}
)

Item = Document | Skipped
Header = tarfile.TarInfo | zipfile.ZipInfo


@dataclass(slots=True)
class _Progress:
    """How the reading of one archive went, shared by its documents, so that its sink can tell
    whether the input may be copied as it is (final once the reader is exhausted), and read
    again the members it held back under the same ``limits``."""

    limits: Limits
    documents: int = 0
    skipped: int = 0
    finished: bool = False


@dataclass(frozen=True, slots=True)
class Member:
    """A document's ``raw``: the member's header, its bytes, and the reading it came from."""

    header: Header
    data: bytes
    progress: _Progress


# --- reading --------------------------------------------------------------------------------


def read(unit: Unit, fields: Fields) -> Iterator[Item]:
    """The members of an archive as plain documents, in archive order (``fields`` does not
    apply: a member is a whole file)."""
    return _items(unit, fields.limits)


def _items(unit: Unit, limits: Limits) -> Generator[Item, None, None]:
    progress = _Progress(limits)
    for item in _members(unit.path, progress):
        if isinstance(item, Skipped):
            progress.skipped += 1
        else:
            progress.documents += 1
        yield item
    progress.finished = True


def _members(path: str, progress: _Progress) -> Iterator[Item]:
    return _read_zip(path, progress) if _is_zip(path) else _read_tar(path, progress)


def _is_zip(name: str) -> bool:
    return name.lower().endswith(".zip")


def _tar_codec(name: str) -> str | None:
    """The codec suffix (``.gz``...) of a tar by its name; None for a plain tar."""
    lower = name.lower()
    return next((codec for suffix, codec in TAR_SUFFIXES if lower.endswith(suffix)), None)


def _document(name: str, fh: IO[bytes], header: Header, progress: _Progress) -> Item:
    """A member read like a plain file; a binary one is left after its first 8 KiB."""
    head = fh.read(BINARY_SNIFF)
    if b"\0" in head:
        return Skipped(name, _binary(head))
    data = head + fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(name, f"invalid UTF-8 at byte {exc.start}")
    return Document(name, text, Member(header, data, progress))


def _binary(head: bytes) -> str:
    label = codecs.sniff(head)
    return f"nested {label}: not read" if label else "binary file"


def _looks_like(head: bytes) -> str:
    """What a file's first bytes are, in a few words, for one that is not what its name says."""
    if not head:
        return "empty"
    if label := codecs.sniff(head):
        return label
    return "binary data of no known kind" if b"\0" in head else "text"


def _too_large(size: int, limits: Limits) -> str:
    return limits.too_large(size, "member")


def _stopped(problem: str, last: str | None) -> str:
    return f"{problem}; read stopped after member {last}" if last is not None else problem


# --- reading tar ----------------------------------------------------------------------------


class _Header(tarfile.TarInfo):
    """A tar header that tells its archive why it could not be read: ``tarfile`` takes a bad
    header after the first for the end of the archive, and says nothing."""

    @classmethod
    def fromtarfile(cls, archive: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(archive)
        except tarfile.HeaderError as exc:
            if isinstance(archive, _TarReader):
                archive.end = exc
            raise


class _TarReader(tarfile.TarFile):
    """A ``TarFile`` that keeps the header error that ended it (see ``_end_problem``)."""

    tarinfo = _Header
    end: tarfile.HeaderError | None = None
    members: list[tarfile.TarInfo]  # set by TarFile (missing from typeshed)


class _Chunks:
    """``read(size)`` over decompressed pieces: all that ``tarfile``'s stream mode asks of a
    file. A broken stream's error comes after the bytes decoded before it, at the next read.
    ``head`` keeps the start, to say what the stream holds when it is no tar."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0
        self._error: InputError | None = None
        self.head = b""

    def read(self, size: int = -1) -> bytes:
        want = size if size >= 0 else 1 << 62
        pieces = []
        while want > 0 and self._fill():
            piece = self._buf[self._pos : self._pos + want]
            self._pos += len(piece)
            want -= len(piece)
            pieces.append(piece)
        if not pieces and self._error is not None:
            raise self._error
        return b"".join(pieces)

    def _fill(self) -> bool:
        """Whether bytes are left to read (taking the next piece when this one is used up)."""
        while self._pos >= len(self._buf) and self._error is None:
            try:
                chunk = next(self._chunks, None)
            except InputError as exc:  # raised at the next read, after what came before
                self._error = exc
                return False
            if chunk is None:
                return False
            self._buf, self._pos = chunk, 0
            self.head = self.head or chunk[:BINARY_SNIFF]
        return self._pos < len(self._buf)

    def drain(self) -> None:
        """Decompress the rest (the tar's padding, the codec's checksum): a broken stream raises
        ``InputError`` here even after the last member."""
        while self.read(codecs.READ_CHUNK):
            pass


def _read_tar(path: str, progress: _Progress) -> Iterator[Item]:
    try:
        with open(path, "rb") as fh:
            yield from _tar_stream(fh, path, progress)
    except OSError as exc:  # the file cannot be opened or its first bytes read
        yield Skipped(path, os_reason(exc))


def _tar_stream(fh: BinaryIO, path: str, progress: _Progress) -> Iterator[Item]:
    codec = _tar_codec(path)
    head = fh.read(BINARY_SNIFF)
    fh.seek(0)
    if codec is not None and codecs.sniff(head) != STREAM_LABELS[codec]:
        yield Skipped(path, f"not a {STREAM_LABELS[codec]} ({_looks_like(head)})")
        return
    source = _source(fh, codec, progress.limits)
    opened = _open_tar(source, codec, head)
    if isinstance(opened, str):
        yield Skipped(path, opened)
        return
    with opened as tf:
        yield from _tar_members(tf, source, path, progress)


def _source(fh: BinaryIO, codec: str | None, limits: Limits) -> BinaryIO | _Chunks:
    """What ``tarfile`` reads: the file itself, or its bytes decompressed by the scan codecs
    (up to the ratio cap)."""
    if codec is None:
        return fh
    raw = codecs.raw_chunks(fh, codecs.COMPRESSED_READ_CHUNK)
    size = os.fstat(fh.fileno()).st_size
    return _Chunks(codecs.capped(codecs.decode(codec, raw), codec, size, limits))


def _open_tar(source: BinaryIO | _Chunks, codec: str | None, head: bytes) -> _TarReader | str:
    """The archive, its first header read; or why it is not one."""
    try:
        return _TarReader.open(fileobj=cast(BinaryIO, source), mode="r|")  # it only reads
    except tarfile.ReadError as exc:
        inner = source.head if isinstance(source, _Chunks) else head
        return _not_tar(codec, inner, exc)
    except InputError as exc:
        return str(exc)


def _not_tar(codec: str | None, head: bytes, exc: tarfile.ReadError) -> str:
    if codecs.sniff(head) == "tar archive":
        return f"corrupt tar archive: {exc}"
    inside = f" inside the {STREAM_LABELS[codec]}" if codec else ""
    return f"not a tar archive{inside} ({_looks_like(head)})"


def _tar_members(
    tf: _TarReader, source: BinaryIO | _Chunks, path: str, progress: _Progress
) -> Iterator[Item]:
    last: str | None = None
    try:
        while (info := tf.next()) is not None:
            tf.members.clear()  # the stream needs no list of the headers read: a huge tar grows it
            item = _tar_member(tf, info, path, progress)
            if item is not None:
                yield item
            last = info.name
        problem = _finish(tf, source)
    except (tarfile.TarError, InputError, OSError) as exc:  # the archive breaks here
        problem = _broken(exc)
    if problem is not None:
        yield Skipped(path, _stopped(problem, last))


def _tar_member(
    tf: tarfile.TarFile, info: tarfile.TarInfo, path: str, progress: _Progress
) -> Item | None:
    name = f"{path}:{info.name}"
    if info.isdir():
        return None
    if not info.isreg():
        return Skipped(name, _special(info))
    if info.size > progress.limits.document_bytes:
        return Skipped(name, _too_large(info.size, progress.limits))
    fh = tf.extractfile(info)
    return Skipped(name, _special(info)) if fh is None else _document(name, fh, info, progress)


def _special(info: tarfile.TarInfo) -> str:
    if info.issym():
        return f"symlink to {info.linkname}: not followed"
    if info.islnk():
        return f"hard link to {info.linkname}: not followed"
    kinds = ((info.ischr, "character device"), (info.isblk, "block device"), (info.isfifo, "FIFO"))
    kind = next((label for test, label in kinds if test()), None)
    return f"not a regular file ({kind or 'tar entry type ' + repr(info.type)})"


def _finish(tf: _TarReader, source: BinaryIO | _Chunks) -> str | None:
    """What is wrong with how the archive ends, if anything; a compressed one is decoded to its
    end, so a stream broken after the last member is found too (``InputError``)."""
    problem = _end_problem(tf)
    if problem is None and isinstance(source, _Chunks):
        source.drain()
    return problem


def _end_problem(tf: _TarReader) -> str | None:
    """What is wrong with how the archive ended, if anything: ``tarfile`` stops quietly at a
    missing, cut or corrupt header; only a zero block is a true end."""
    end = tf.end
    # the header errors' subclasses are missing from typeshed
    if end is None or isinstance(end, tarfile.EOFHeaderError):  # type: ignore[attr-defined]
        return None
    if isinstance(end, tarfile.EmptyHeaderError):  # type: ignore[attr-defined]
        return "truncated tar archive: no end-of-archive marker"
    return f"corrupt tar header: {end}"


def _broken(exc: Exception) -> str:
    if isinstance(exc, tarfile.TarError):
        return f"corrupt or truncated tar archive: {exc}"
    return os_reason(exc) if isinstance(exc, OSError) else str(exc)


# --- reading zip ----------------------------------------------------------------------------


def _read_zip(path: str, progress: _Progress) -> Iterator[Item]:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        yield Skipped(path, _not_zip(path, exc))
        return
    except OSError as exc:  # the file cannot be opened or read
        yield Skipped(path, os_reason(exc))
        return
    with zf:
        yield from _zip_members(zf, path, progress)


def _not_zip(path: str, exc: zipfile.BadZipFile) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(BINARY_SNIFF)
    except OSError as err:  # unreadable now: say that
        return os_reason(err)
    if codecs.sniff(head) == "zip archive":
        return f"corrupt or truncated zip archive: {exc}"
    return f"not a zip archive ({_looks_like(head)})"


def _zip_members(zf: zipfile.ZipFile, path: str, progress: _Progress) -> Iterator[Item]:
    reach = 0  # where the members before end, at the least
    for info in sorted(zf.infolist(), key=lambda i: i.header_offset):
        if info.is_dir():
            continue
        name = f"{path}:{info.filename}"
        problem = _zip_type_problem(info) or _zip_size_problem(info, reach, progress.limits)
        reach = max(reach, info.header_offset + ZIP_LOCAL_HEADER + info.compress_size)
        yield Skipped(name, problem) if problem else _zip_member(zf, info, name, progress)


def _zip_type_problem(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symlink: not followed"
    if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        return f"not a regular file (mode {stat.filemode(mode)})"
    return "encrypted member" if info.flag_bits & ZIP_ENCRYPTED else None


def _zip_size_problem(info: zipfile.ZipInfo, reach: int, limits: Limits) -> str | None:
    size, stored = info.file_size, info.compress_size
    if size > limits.document_bytes:
        return _too_large(size, limits)
    if size > BOMB_MIN_BYTES and size > limits.ratio * stored:
        return f"compression ratio {size // max(stored, 1)}:1 (zip bomb?): not read"
    if info.header_offset < reach:
        return "overlaps the member before it (zip bomb?): not read"
    return None


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, progress: _Progress) -> Item:
    try:
        with zf.open(info) as fh:
            return _document(name, fh, info, progress)
    except NotImplementedError as exc:  # zipfile cannot decompress this method
        return Skipped(name, f"unsupported compression: {exc}")
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError) as exc:
        return Skipped(name, f"corrupt member: {exc}")  # bad header, data or CRC


# --- writing --------------------------------------------------------------------------------


class _TarOut:
    """One output tar, compressed like the input, members added as they come."""

    def __init__(self, path: Path, codec: str | None) -> None:
        self._file = open_for_write(path)
        self._stream = codecs.compressor(self._file, f"out{codec or ''}")  # codec by suffix
        self._tar = tarfile.open(  # noqa: SIM115 - open for the sink's life, closed by close()
            fileobj=self._stream, mode="w|", format=tarfile.PAX_FORMAT
        )

    def add(self, member: Member) -> None:
        header = member.header
        if not isinstance(header, tarfile.TarInfo):
            raise TypeError(f"{header.filename}: a zip member cannot go into a tar")
        self._tar.addfile(_plain_header(header), io.BytesIO(member.data))

    def close(self) -> None:
        try:
            self._tar.close()
            self._stream.close()
        finally:
            self._file.close()


def _plain_header(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """The header to write a member's bytes under: a sparse member is written whole."""
    if not info.issparse():
        return info
    plain = copy.copy(info)
    plain.type = tarfile.REGTYPE
    plain.sparse = None
    plain.pax_headers = {k: v for k, v in info.pax_headers.items() if not k.startswith("GNU.")}
    return plain


class _ZipOut:
    """One output zip, members added as they come with their input ``ZipInfo``."""

    def __init__(self, path: Path) -> None:
        self._file = open_for_write(path)
        self._zip = zipfile.ZipFile(self._file, "w")

    def add(self, member: Member) -> None:
        header = member.header
        if not isinstance(header, zipfile.ZipInfo):
            raise TypeError(f"{header.name}: a tar member cannot go into a zip")
        # writestr fills in sizes and CRC: on a copy, the input's header stays as read
        self._zip.writestr(copy.copy(header), member.data, compresslevel=ZIP_LEVEL)

    def close(self) -> None:
        try:
            self._zip.close()
        finally:
            self._file.close()


class _ArchiveSink:
    """Writes the members of one archive to its clean and quarantine archives.

    Clean members are held back (only counted) while no document is quarantined: if the
    archive turns out whole, clean, with nothing skipped, ``close`` copies the input instead.
    Otherwise those members are read again from the input and written first.
    """

    def __init__(self, unit: Unit, out_dir: Path) -> None:
        self._unit = unit
        self._out_dir = out_dir
        self._outs: dict[str, _TarOut | _ZipOut] = {}
        self._holding = True
        self._held = 0
        self._progress: _Progress | None = None

    def write(self, doc: Document, quarantined: bool) -> None:
        member = _member_of(doc)
        if self._holding and not quarantined:
            self._held += 1
            self._progress = member.progress
            return
        self._release()
        self._out(side_of(quarantined)).add(member)

    def close(self) -> None:
        try:
            if self._holding and self._input_is_clean():
                copy_file(self._unit.path, self._out_dir / CLEAN / self._unit.out_rel)
                return
            self._release()
            if not self._outs:
                self._out(CLEAN)  # an archive without documents still gets an empty clean one
        finally:
            outs, self._outs = list(self._outs.values()), {}
            for out in outs:
                out.close()

    def _input_is_clean(self) -> bool:
        """Every member held is a clean document, read whole, nothing skipped."""
        done = self._progress
        if done is None or not done.finished:
            return False
        return not done.skipped and done.documents == self._held

    def _release(self) -> None:
        """Stop holding back: write the clean members held so far, read again from the input."""
        if not self._holding:
            return
        self._holding = False
        if self._held:
            self._write_held()

    def _write_held(self) -> None:
        progress = self._progress
        items = _items(self._unit, progress.limits if progress else Limits())
        out = self._out(CLEAN)
        written = 0
        try:
            for doc in islice((i for i in items if isinstance(i, Document)), self._held):
                out.add(_member_of(doc))
                written += 1
        finally:
            items.close()
        if written < self._held:
            raise InputError(f"{self._unit.path}: changed while it was being scanned")

    def _out(self, side: str) -> _TarOut | _ZipOut:
        out = self._outs.get(side)
        if out is None:
            path = self._out_dir / side / self._unit.out_rel
            zipped = _is_zip(self._unit.path)
            out = _ZipOut(path) if zipped else _TarOut(path, _tar_codec(self._unit.path))
            self._outs[side] = out
        return out


def _member_of(doc: Document) -> Member:
    if not isinstance(doc.raw, Member):
        raise TypeError(f"{doc.doc}: expected an archive member, got {type(doc.raw).__name__}")
    return doc.raw


def sink(unit: Unit, out_dir: Path) -> _ArchiveSink:
    return _ArchiveSink(unit, out_dir)


FORMAT = Format("archive", read, sink)
