"""The input side of ``distillguard scan``: plan the units of a scan, read them into documents.

A *unit* is one file to read: a plain file (one document) or a record file (``.jsonl``,
``.jsonl.gz``, ``.jsonl.zst``, ``.parquet``: one document per record). ``plan`` turns the PATHs of
the command line into units; ``read_unit`` turns a unit into documents, or into ``Skipped``
entries for whatever cannot be read. Bad input never raises here (only a missing PATH does):
every document ends up as a ``Document`` or a ``Skipped``.

Rules, as the scan contract states them:

- A directory is walked recursively in sorted order (entries of each directory sorted by name,
  depth first). Every regular file is a document, dotfiles included, except record files,
  whose records are the documents. The output directory is left out when it lies inside an
  input. Symlinked files are followed; symlinked directories are not (no loops): each is listed
  as skipped, like sockets, FIFOs and devices.
- Document names (``doc``): a file under a directory PATH is PATH as given joined with its
  POSIX relative path; a JSONL record is ``PATH:n`` (1-based line after decompression), a
  Parquet row ``PATH:i`` (0-based); with an id field, the id as a string.
- Text is the file's bytes decoded as strict UTF-8 and kept exactly so (a byte-order mark stays
  in the text as U+FEFF), so spans index into what is on disk. A NUL byte in the first 8 KiB
  makes a file binary.
"""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

from distillguard.errors import InputError

Kind = Literal["file", "jsonl", "parquet"]

RECORD_SUFFIXES: tuple[tuple[str, Kind], ...] = (
    (".jsonl", "jsonl"),
    (".jsonl.gz", "jsonl"),
    (".jsonl.zst", "jsonl"),
    (".parquet", "parquet"),
)
BINARY_SNIFF = 8192
READ_CHUNK = 1 << 20
# Compressed input is fed in small pieces: what a piece decodes to is lost when the decoder
# fails inside it, and zstd cannot bound its output per call.
COMPRESSED_READ_CHUNK = 1 << 16
PARQUET_BATCH_ROWS = 8192


@dataclass(frozen=True, slots=True)
class Document:
    """One document: its name, its text, and what the writer needs to copy it unchanged.

    ``raw`` is the file's bytes, the JSONL line's bytes (without its newline) or the Parquet
    row's index.
    """

    doc: str
    text: str
    raw: bytes | int


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something that could not be read, with the reason."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unit:
    """One file to read. ``out_rel`` is its path relative to ``clean/`` or ``quarantine/``."""

    path: str
    kind: Kind
    out_rel: str
    size: int


# --- planning -------------------------------------------------------------------------------


def plan(paths: Sequence[str], *, exclude: Path | None = None) -> tuple[list[Unit], list[Skipped]]:
    """The units to read for these PATHs, and what was found unreadable while walking.

    With one PATH, outputs keep its own layout; with several, each goes under its basename
    (``name-2``, ``name-3``... when basenames repeat). ``exclude`` (the output directory) is
    never walked. Raises ``InputError`` when a PATH does not exist or lies inside ``exclude``.
    """
    if not paths:
        raise InputError("no input PATH given")
    for path in paths:
        _check_path(path, exclude)
    excluded = _identity(exclude)
    names = _output_names(paths)
    units: list[Unit] = []
    skipped: list[Skipped] = []
    for path, name in zip(paths, names, strict=True):
        prefix = "" if len(paths) == 1 else name + "/"
        _plan_path(path, name, prefix, excluded, units, skipped)
    return units, skipped


def _check_path(path: str, exclude: Path | None) -> None:
    if not os.path.exists(path):
        broken = os.path.islink(path)
        raise InputError(f"{path}: {'broken symlink' if broken else 'no such file or directory'}")
    if exclude is not None and _is_within(Path(path), exclude):
        raise InputError(f"{path}: lies inside the output directory {exclude}")


def _is_within(path: Path, parent: Path) -> bool:
    return path.resolve().is_relative_to(parent.resolve())


def _identity(path: Path | None) -> tuple[int, int] | None:
    """(device, inode) of an existing directory, to recognise it however it is reached."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _plan_path(
    path: str,
    name: str,
    prefix: str,
    excluded: tuple[int, int] | None,
    units: list[Unit],
    skipped: list[Skipped],
) -> None:
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        for rel, entry in _walk(path, "", excluded, skipped):
            _plan_entry(entry, prefix + rel, units, skipped)
    elif stat.S_ISREG(st.st_mode):
        units.append(Unit(path, kind_of(path), prefix.rstrip("/") or name, st.st_size))
    else:
        skipped.append(Skipped(path, f"not a regular file ({_file_type(st.st_mode)})"))


def _walk(
    top: str, rel: str, excluded: tuple[int, int] | None, skipped: list[Skipped]
) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative POSIX path, entry) of everything under ``top`` but its real subdirectories."""
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        skipped.append(Skipped(top, os_reason(exc)))
        return
    for entry in entries:
        if _is_real_dir(entry):
            if not _is_excluded(entry, excluded):
                yield from _walk(entry.path, f"{rel}{entry.name}/", excluded, skipped)
        else:
            yield rel + entry.name, entry


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_excluded(entry: os.DirEntry[str], excluded: tuple[int, int] | None) -> bool:
    if excluded is None or entry.inode() != excluded[1]:
        return False
    try:
        return entry.stat(follow_symlinks=False).st_dev == excluded[0]
    except OSError:
        return False


def _plan_entry(
    entry: os.DirEntry[str], out_rel: str, units: list[Unit], skipped: list[Skipped]
) -> None:
    try:
        st = entry.stat(follow_symlinks=True)
    except OSError as exc:
        broken = entry.is_symlink()
        skipped.append(Skipped(entry.path, ("broken symlink: " if broken else "") + os_reason(exc)))
        return
    if stat.S_ISREG(st.st_mode):
        units.append(Unit(entry.path, kind_of(entry.name), out_rel, st.st_size))
    elif stat.S_ISDIR(st.st_mode):
        skipped.append(Skipped(entry.path, "symlink to a directory: not followed"))
    else:
        skipped.append(Skipped(entry.path, f"not a regular file ({_file_type(st.st_mode)})"))


def _file_type(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISDIR, "directory"),
    )
    return next((label for test, label in kinds if test(mode)), "special file")


def kind_of(name: str) -> Kind:
    """What a file is read as, by its name: a record file, or a plain file."""
    lower = name.lower()
    return next((kind for suffix, kind in RECORD_SUFFIXES if lower.endswith(suffix)), "file")


def _output_names(paths: Sequence[str]) -> list[str]:
    """Each PATH's basename; a repeated one gets a numeric suffix (``-2``, ``-3``...)."""
    bases = [_basename(p) for p in paths]
    reserved = set(bases)
    taken: set[str] = set()
    names = []
    for path, base in zip(paths, bases, strict=True):
        name, n = base, 2
        while name in taken or (name != base and name in reserved):
            name, n = _suffixed(base, n, is_dir=os.path.isdir(path)), n + 1
        taken.add(name)
        names.append(name)
    return names


def _basename(path: str) -> str:
    name = os.path.basename(os.path.normpath(path))
    if name in ("", ".", ".."):
        name = Path(path).resolve().name or "root"
    return name


def _suffixed(name: str, n: int, *, is_dir: bool) -> str:
    """``name`` with ``-n`` before its extension (a record suffix counts as one extension)."""
    if is_dir:
        return f"{name}-{n}"
    lower = name.lower()
    ext = next((s for s, _ in RECORD_SUFFIXES if lower.endswith(s)), "")
    ext = ext or os.path.splitext(name)[1]
    stem = name[: len(name) - len(ext)]
    return f"{stem}-{n}{ext}"


def os_reason(exc: OSError) -> str:
    """The operating system's words for an error, without the path."""
    return exc.strerror or str(exc)


# --- reading --------------------------------------------------------------------------------


def read_unit(
    unit: Unit, *, text_field: str = "text", id_field: str | None = None
) -> Iterator[Document | Skipped]:
    """The documents of one unit, in order; whatever cannot be read comes as ``Skipped``.

    A plain file gives one ``Document`` or one ``Skipped``. A record file gives one item per
    record; when its stream breaks (truncated or corrupt .gz/.zst, a corrupt Parquet page), the
    records before the break are documents and a last ``Skipped`` for the file says where.
    """
    if unit.kind == "file":
        yield read_file(unit.path)
    elif unit.kind == "jsonl":
        yield from _read_jsonl(unit.path, text_field, id_field)
    else:
        yield from _read_parquet(unit.path, text_field, id_field)


def read_units(
    units: Iterable[Unit], *, text_field: str = "text", id_field: str | None = None
) -> Iterator[tuple[Unit, Document | Skipped]]:
    """``read_unit`` over many units (a batch of small files for one worker), tagged by unit."""
    for unit in units:
        for item in read_unit(unit, text_field=text_field, id_field=id_field):
            yield unit, item


def read_file(path: str) -> Document | Skipped:
    """One plain file as a document: read once, decoded once (strict UTF-8, BOM kept)."""
    try:
        with open(path, "rb", buffering=0) as fh:
            data = fh.readall()
    except OSError as exc:
        return Skipped(path, os_reason(exc))
    if data.find(b"\0", 0, BINARY_SNIFF) != -1:
        return Skipped(path, "binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(path, f"invalid UTF-8 at byte {exc.start}")
    return Document(path, text, data)


# --- JSONL ----------------------------------------------------------------------------------


def _read_jsonl(path: str, text_field: str, id_field: str | None) -> Iterator[Document | Skipped]:
    lineno = 0
    try:
        for line in _lines(decompressed_chunks(path)):
            lineno += 1
            yield parse_record(f"{path}:{lineno}", line, text_field, id_field)
    except InputError as exc:
        where = f"; read stopped after line {lineno}" if lineno else ""
        yield Skipped(path, f"{exc}{where}")


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines without their newline. A last line without one still counts; a line cut off by
    a broken stream does not (the exception leaves before it is yielded)."""
    pending: list[bytes] = []
    for chunk in chunks:
        parts = chunk.split(b"\n")
        if len(parts) == 1:
            pending.append(chunk)
            continue
        if pending:
            pending.append(parts[0])
            parts[0] = b"".join(pending)
        tail = parts.pop()
        yield from parts
        pending = [tail] if tail else []
    if pending:
        yield b"".join(pending)


def decompressed_chunks(path: str) -> Generator[bytes, None, None]:
    """The decompressed bytes of a JSONL file (by its suffix), piece by piece; a read error or
    a broken stream raises ``InputError`` after the pieces decoded before it."""
    lower = path.lower()
    try:
        with open(path, "rb") as fh:
            if lower.endswith(".gz"):
                yield from _gunzip(_raw_chunks(fh, COMPRESSED_READ_CHUNK))
            elif lower.endswith(".zst"):
                yield from _unzstd(_raw_chunks(fh, COMPRESSED_READ_CHUNK))
            else:
                yield from _raw_chunks(fh, READ_CHUNK)
    except OSError as exc:
        raise InputError(os_reason(exc)) from exc


def _raw_chunks(fh: BinaryIO, size: int) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk


def deflate_module() -> Any:
    """``isal.isal_zlib`` (ISA-L: the same format, 2x faster to inflate and 3x faster to
    deflate) when it is installed, else the standard ``zlib``: an accelerator, not a need."""
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
    """Decompress zstd frames one after another; a stream ending inside a frame is truncated."""
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    dec = dctx.decompressobj()
    in_frame = False
    try:
        for data in raw:
            while data:
                in_frame = True
                out = dec.decompress(data)
                if out:
                    yield out
                data = b""
                if dec.eof:
                    data, dec, in_frame = dec.unused_data, dctx.decompressobj(), False
    except zstandard.ZstdError as exc:
        raise InputError(f"corrupt zstd stream: {exc}") from exc
    if in_frame:
        raise InputError("truncated zstd stream (ends inside a frame)")


def parse_record(
    where: str, line: bytes, text_field: str, id_field: str | None
) -> Document | Skipped:
    """One JSONL line as a document named ``where`` (or by its id), or why it cannot be.

    orjson parses (about 3x the standard library) straight from the bytes, which it checks are
    UTF-8; it refuses lone surrogates (``\\ud800`` escapes, which no UTF-8 encoder could write
    back) and nesting deeper than 1024.
    """
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _unreadable(where, line)
    if not isinstance(record, dict):
        return Skipped(where, f"record is a JSON {_json_type(record)}, not an object")
    text = record.get(text_field)
    if not isinstance(text, str):
        return Skipped(where, _not_text(text_field, text))
    doc = _doc_id(record, id_field) if id_field else where
    if doc is None:
        return Skipped(where, f"no '{id_field}' field (or it is null)")
    return Document(doc, text, line)


def _unreadable(where: str, line: bytes) -> Skipped:
    """Why a line orjson refused is no record (its bytes are decoded first, so invalid UTF-8
    is named as such)."""
    try:
        orjson.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Skipped(where, f"invalid UTF-8 at byte {exc.start} of the line")
    except orjson.JSONDecodeError as exc:
        blank = not line.strip()
        return Skipped(where, "blank line (no JSON record)" if blank else f"malformed JSON: {exc}")
    return Skipped(where, "malformed JSON")  # not reached: orjson reads both forms alike


def _not_text(field: str, value: Any) -> str:
    if value is None:
        return f"no '{field}' field (or it is null)"
    return f"'{field}' is a JSON {_json_type(value)}, not a string"


def _doc_id(record: dict[str, Any], id_field: str) -> str | None:
    value = record.get(id_field)
    return None if value is None else str(value)


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number"}
    return names.get(type(value), "number" if isinstance(value, float) else type(value).__name__)


# --- Parquet --------------------------------------------------------------------------------


def _read_parquet(path: str, text_field: str, id_field: str | None) -> Iterator[Document | Skipped]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        yield Skipped(path, f"cannot read Parquet: {exc}")
        return
    with pf:
        problem = column_problem(pf.schema_arrow, text_field, id_field)
        if problem:
            yield Skipped(path, problem)
            return
        yield from _parquet_rows(path, pf, text_field, id_field)


def _parquet_rows(
    path: str, pf: Any, text_field: str, id_field: str | None
) -> Iterator[Document | Skipped]:
    import pyarrow as pa

    columns = [text_field] if id_field in (None, text_field) else [text_field, id_field]
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns):
            texts = batch.column(0).to_numpy(zero_copy_only=False)
            ids = batch.column(len(columns) - 1).to_pylist() if id_field else None
            for i, text in enumerate(texts):
                doc_id = ids[i] if ids is not None else None
                yield _parquet_doc(path, row + i, text, doc_id, text_field, id_field)
            row += batch.num_rows
    except (OSError, ValueError, pa.ArrowException) as exc:
        where = f" (rows 0-{row - 1} were read)" if row else ""
        yield Skipped(path, f"corrupt Parquet at row {row}: {exc}{where}")


def _parquet_doc(
    path: str, row: int, text: Any, doc_id: Any, text_field: str, id_field: str | None
) -> Document | Skipped:
    where = f"{path}:{row}"
    if text is None:
        return Skipped(where, f"'{text_field}' is null")
    if id_field is None:
        return Document(where, text, row)
    if doc_id is None:
        return Skipped(where, f"'{id_field}' is null")
    return Document(str(doc_id), text, row)


def column_problem(schema: Any, text_field: str, id_field: str | None) -> str | None:
    """Why a Parquet schema cannot be scanned with these fields, or None."""
    import pyarrow as pa

    names = schema.names
    for field in (text_field, id_field):
        if field is not None and field not in names:
            return f"no '{field}' column (columns: {', '.join(names)})"
    kind = schema.field(text_field).type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_view(kind)):
        return f"column '{text_field}' is {kind}, not a string"
    return None


def _is_view(kind: Any) -> bool:
    import pyarrow as pa

    test = getattr(pa.types, "is_string_view", None)
    return bool(test and test(kind))
