"""JSONL: every line a record, each bad line's reason, every codec; lines written back unchanged."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from random import Random
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.scan.formats import Document, Fields, Limits, Skipped, Unit, format_of, jsonl
from distillguard.scan.formats.jsonl import Cut, Line
from distillguard.scan.outdir import MARKER, prepare_out_dir
from distillguard.scan.plan import plan
from tests.scan.files import write

Decide = Callable[[Document], bool]
COMPRESSED = [".jsonl.gz", ".jsonl.zst", ".jsonl.bz2", ".jsonl.xz"]
SUFFIXES = [".jsonl", *COMPRESSED]
WORDS = {".gz": "gzip", ".zst": "zstd", ".bz2": "bzip2", ".xz": "xz"}
INSIDE = {".gz": "member", ".zst": "frame", ".bz2": "stream", ".xz": "stream"}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def codec(name: str) -> str:
    return "." + name.rsplit(".", 1)[1]


def compress(name: str, data: bytes, *, bz2_level: int = 9) -> bytes:
    """``data`` compressed as the name says, by the codec's own library, at other levels than
    the sinks use: an output that was compressed again is never the input's bytes. (A bzip2
    stream decodes a block at a time: a truncated one needs small blocks, ``bz2_level=1``.)"""
    if name.endswith(".gz"):
        return gzip.compress(data, compresslevel=6)
    if name.endswith(".zst"):
        return zstandard.ZstdCompressor(level=3).compress(data)
    if name.endswith(".bz2"):
        return bz2.compress(data, bz2_level)
    if name.endswith(".xz"):
        return lzma.compress(data, preset=1)
    return data


def decompress(name: str, data: bytes) -> bytes:
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    if name.endswith(".bz2"):
        return bz2.decompress(data)
    if name.endswith(".xz"):
        return lzma.decompress(data)
    return data


def jsonl_bytes(*records: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def files_under(root: Path) -> dict[str, bytes]:
    """The files under ``root`` by relative POSIX path; a scan output's marker is left out."""
    found = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
    return {rel: p.read_bytes() for rel, p in found.items() if rel != MARKER}


def lines_of(path: Path) -> list[bytes]:
    data = decompress(path.name, path.read_bytes())
    assert data == b"" or data.endswith(b"\n")
    return data.split(b"\n")[:-1]


def items(path: str, fields: Fields | None = None) -> list[Document | Skipped]:
    units, skipped = plan([path])
    assert not skipped
    assert all(u.kind == "jsonl" for u in units)
    return [item for unit in units for item in format_of(unit).read(unit, fields or Fields())]


def docs(path: str, fields: Fields | None = None) -> list[tuple[str, str]]:
    return [(d.doc, d.text) for d in items(path, fields) if isinstance(d, Document)]


def by_text(doc: Document) -> bool:
    return "bad" in doc.text


def scan(
    paths: list[str], out: Path, decide: Decide = by_text, fields: Fields | None = None
) -> tuple[list[Document], list[Skipped]]:
    """What the engine does, with ``decide`` as the matcher."""
    prepare_out_dir(out)
    units, skipped = plan(paths, exclude=out)
    documents: list[Document] = []
    for unit in units:
        fmt = format_of(unit)
        sink = fmt.sink(unit, out)  # a record file always gets its sink (Format.records)
        for item in fmt.read(unit, fields or Fields()):
            if isinstance(item, Skipped):
                skipped.append(item)
                continue
            sink.write(item, decide(item))
            documents.append(item)
        sink.close()
    return documents, skipped


def many_lines(n: int) -> list[bytes]:
    return [json.dumps({"text": f"ok {i} " + "v" * (i % 89)}).encode() for i in range(n)]


def joined(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


# --- reading --------------------------------------------------------------------------------


def test_jsonl_records_are_named_by_line(here: Path) -> None:
    write("data/s.jsonl", jsonl_bytes({"text": "a"}, {"text": "b", "meta": 1}))
    [unit], _ = plan(["data"])
    assert unit.kind == "jsonl"
    assert list(format_of(unit).read(unit, Fields())) == [
        Document("data/s.jsonl:1", "a", Line(1, b'{"text": "a"}', False), nbytes=13),
        Document("data/s.jsonl:2", "b", Line(2, b'{"text": "b", "meta": 1}', True), nbytes=24),
    ]


def test_ndjson_is_jsonl(here: Path) -> None:
    write("s.ndjson", jsonl_bytes({"text": "a"}))
    assert docs("s.ndjson") == [("s.ndjson:1", "a")]


def test_jsonl_text_and_id_fields(here: Path) -> None:
    write("s.jsonl", jsonl_bytes({"body": "a", "id": 7}, {"body": "b", "id": "x-1"}))
    assert docs("s.jsonl", Fields(text="body", id="id")) == [("7", "a"), ("x-1", "b")]


def test_a_chat_line_keeps_where_each_string_lies(here: Path) -> None:
    record = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    write("s.jsonl", jsonl_bytes(record))
    [doc] = items("s.jsonl")
    assert isinstance(doc, Document)
    assert doc.text == "q\n\na"
    assert doc.fields == (("messages[0].content", 0), ("messages[1].content", 3))


def test_jsonl_last_line_without_newline_and_crlf(here: Path) -> None:
    write("s.jsonl", b'{"text": "a"}\r\n{"text": "b"}')
    assert items("s.jsonl") == [
        Document("s.jsonl:1", "a", Line(1, b'{"text": "a"}\r', False), nbytes=14),
        Document("s.jsonl:2", "b", Line(2, b'{"text": "b"}', True), nbytes=13),
    ]


def test_only_the_last_line_of_an_intact_input_is_last(here: Path) -> None:
    write("s.jsonl", jsonl_bytes({"text": "a"}, {"text": "b"}, {"x": 1}))
    got = items("s.jsonl")
    assert [g.raw.last for g in got if isinstance(g, Document)] == [False, False]
    assert got[-1] == Skipped("s.jsonl:3", "no 'text' field and no known chat shape (keys: x)")


def test_every_bad_jsonl_line_is_skipped_with_its_reason(here: Path) -> None:
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
        b"   ",
        b'"just a string"',
        b'{"messages": []}',
    ]
    write("s.jsonl", b"\n".join(lines) + b"\n")
    got = items("s.jsonl")
    assert [g.doc for g in got if isinstance(g, Document)] == ["s.jsonl:1", "s.jsonl:11"]
    reasons = {s.path: s.reason for s in got if isinstance(s, Skipped)}
    assert reasons["s.jsonl:2"].startswith("malformed JSON: unexpected end of data")
    assert reasons["s.jsonl"] == "2 blank lines (no JSON record): lines 3, 12"
    assert reasons["s.jsonl:4"] == "record is a JSON array, not an object"
    assert reasons["s.jsonl:5"] == "no 'text' field and no known chat shape (keys: other)"
    assert reasons["s.jsonl:6"] == "'text' is null and no known chat shape (keys: text)"
    assert reasons["s.jsonl:7"] == "'text' is a JSON number, not a string"
    assert reasons["s.jsonl:8"] == "invalid UTF-8 at byte 10 of the line"
    assert reasons["s.jsonl:9"].startswith("malformed JSON: no low surrogate in string")
    assert reasons["s.jsonl:10"].startswith("malformed JSON: depth limit exceeded")
    assert reasons["s.jsonl:13"] == "record is a JSON string, not an object"
    assert reasons["s.jsonl:14"] == "a chat record without any text"
    assert len(got) == len(lines) - 1  # the two blank lines are one entry


def test_a_record_without_its_id_is_skipped(here: Path) -> None:
    write("s.jsonl", jsonl_bytes({"text": "a", "id": 1}, {"text": "b"}, {"text": "c", "id": None}))
    got = items("s.jsonl", Fields(id="id"))
    assert got[0] == Document("1", "a", Line(1, b'{"text": "a", "id": 1}', False), nbytes=22)
    assert got[1:] == [
        Skipped("s.jsonl:2", "no 'id' field (or it is null)"),
        Skipped("s.jsonl:3", "no 'id' field (or it is null)"),
    ]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_an_empty_jsonl_has_no_documents(here: Path, suffix: str) -> None:
    write(f"s{suffix}", compress(suffix, b""))
    assert items(f"s{suffix}") == []


LINES = jsonl_bytes(*({"text": f"line {i} " + "x" * (i % 50)} for i in range(3000)))


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_compressed_jsonl_reads_the_same_lines(here: Path, suffix: str) -> None:
    name = f"s{suffix}"
    write(name, compress(suffix, LINES))
    got = docs(name)
    assert len(got) == 3000
    assert got[41] == (f"{name}:42", "line 41 " + "x" * 41)
    assert got[-1] == (f"{name}:3000", "line 2999 " + "x" * 49)


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_concatenated_members_streams_and_frames(here: Path, suffix: str) -> None:
    a, b = jsonl_bytes({"text": "a"}), jsonl_bytes({"text": "b"})
    padding = bytes(16) if suffix.endswith(".gz") else b""
    write(f"s{suffix}", compress(suffix, a) + compress(suffix, b) + padding)
    assert [t for _, t in docs(f"s{suffix}")] == ["a", "b"]


def random_records(seed: int, n: int) -> list[dict[str, str]]:
    rng = Random(seed)
    return [{"text": "".join(rng.choices("abcdefgh ", k=200))} for _ in range(n)]


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_a_truncated_stream_keeps_the_lines_before_the_break(here: Path, suffix: str) -> None:
    name = f"s{suffix}"
    records = random_records(1, 5000)
    data = compress(suffix, jsonl_bytes(*records), bz2_level=1)
    write(name, data[: len(data) // 2])
    got = items(name)
    documents = [g for g in got if isinstance(g, Document)]
    assert 0 < len(documents) < 5000
    assert [d.text for d in documents] == [r["text"] for r in records[: len(documents)]]
    assert not any(d.raw.last for d in documents)
    word = WORDS[codec(suffix)]
    assert got[-1] == Skipped(
        name,
        f"truncated {word} stream (ends inside a {INSIDE[codec(suffix)]}); "
        f"read stopped after line {len(documents)}",
    )
    assert len(got) == len(documents) + 1


def test_a_stream_broken_before_its_first_line_says_so_without_a_line(here: Path) -> None:
    data = gzip.compress(LINES)
    write("s.jsonl.gz", data[:20])
    assert items("s.jsonl.gz") == [
        Skipped("s.jsonl.gz", "truncated gzip stream (ends inside a member)")
    ]


def test_a_corrupt_gzip_is_skipped_with_the_decoder_error(here: Path) -> None:
    texts = [r["text"] for r in random_records(2, 5000)]
    data = bytearray(gzip.compress(jsonl_bytes(*({"text": t} for t in texts))))
    data[-8:-4] = bytes(4)  # the CRC, checked at the end of the member
    write("s.jsonl.gz", bytes(data))
    *documents, last = items("s.jsonl.gz")
    assert 4000 < len(documents) < 5000  # only what the last piece decoded to is lost
    assert [d.text for d in documents if isinstance(d, Document)] == texts[: len(documents)]
    assert isinstance(last, Skipped)
    assert last.path == "s.jsonl.gz"
    assert last.reason.startswith("corrupt gzip stream: ")
    assert last.reason.endswith(f"; read stopped after line {len(documents)}")


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_a_file_that_is_not_what_its_suffix_says_is_skipped(here: Path, suffix: str) -> None:
    write(f"s{suffix}", LINES)
    [skip] = items(f"s{suffix}")
    assert isinstance(skip, Skipped)
    assert skip.path == f"s{suffix}"
    assert skip.reason.startswith(f"corrupt {WORDS[codec(suffix)]} stream: ")  # codec's words
    assert "read stopped" not in skip.reason


def test_an_unreadable_record_file_is_skipped(here: Path) -> None:
    write("data/s.jsonl.gz", gzip.compress(LINES))
    units, _ = plan(["data"])
    os.remove("data/s.jsonl.gz")
    assert list(format_of(units[0]).read(units[0], Fields())) == [
        Skipped("data/s.jsonl.gz", "No such file or directory")
    ]


def test_a_very_long_line_across_many_chunks(here: Path) -> None:
    text = "y" * (5 << 20)
    write("s.jsonl", jsonl_bytes({"text": "a"}, {"text": text}, {"text": "c"}))
    assert [t for _, t in docs("s.jsonl")] == ["a", text, "c"]


def test_lines_splits_across_chunks_and_keeps_a_last_line_without_newline() -> None:
    chunks = [b'{"a"', b": 1}\n{", b"", b'"b": 2}\n\n', b"tail"]
    assert list(jsonl.lines(chunks, 100)) == [b'{"a": 1}', b'{"b": 2}', b"", b"tail"]
    assert list(jsonl.lines([b"x\n"], 100)) == [b"x"]
    assert list(jsonl.lines([], 100)) == []


def test_lines_over_the_cap_are_cut_not_gathered() -> None:
    chunks = [b"ab\nabcdefg", b"hij", b"k\nxy\n", b"toolongline\nok", b"\n", b"12345678"]
    got = list(jsonl.lines(chunks, 5))
    assert got == [b"ab", Cut(11), b"xy", Cut(11), b"ok", Cut(8)]
    assert list(jsonl.lines([b"12345\n123456"], 5)) == [b"12345", Cut(6)]


def test_a_line_over_the_cap_is_skipped_and_the_next_read(here: Path) -> None:
    write("s.jsonl", jsonl_bytes({"text": "a"}, {"text": "b" * 100}, {"text": "c"}))
    got = items("s.jsonl", Fields(limits=Limits(document_bytes=50)))
    assert [(d.doc, d.text) for d in got if isinstance(d, Document)] == [
        ("s.jsonl:1", "a"),
        ("s.jsonl:3", "c"),
    ]
    assert [s for s in got if isinstance(s, Skipped)] == [
        Skipped(
            "s.jsonl:2",
            "line too large (112 bytes > the 50-byte cap); raise it with --max-document-bytes "
            "or [scan] max_document_bytes",
        )
    ]


def test_blank_lines_are_one_entry_and_end_the_run_of_a_whole_file(here: Path) -> None:
    write("s.jsonl", b'{"text": "a"}\n\n \n{"text": "b"}\n\n')
    got = items("s.jsonl")
    assert [g.raw.last for g in got if isinstance(g, Document)] == [False, False]
    assert got[-1] == Skipped("s.jsonl", "3 blank lines (no JSON record): lines 2, 3, 5")
    write("t.jsonl", b'{"text": "a"}\n\n{"text": "b"}\n')
    assert items("t.jsonl")[-1] == Skipped("t.jsonl:2", "blank line (no JSON record)")


# --- writing --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_jsonl_lines_are_split_unchanged(here: Path, suffix: str) -> None:
    raw = [
        b'{"text": "good", "n": 1}',
        b'{"n":2,"text":"bad \\u00e9"}',  # kept as written, not re-serialized
        b"not json",
        b'{"text": "fine"}\r',
        b'{"text": "bad again"}',
    ]
    write(f"data/sub/s{suffix}", compress(suffix, joined(raw)))
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


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_an_all_quarantined_jsonl_makes_no_clean_file(here: Path, suffix: str) -> None:
    write(f"s{suffix}", compress(suffix, b'{"text": "bad"}\n{"text": "bad too"}\n'))
    scan([f"s{suffix}"], here / "out")
    assert lines_of(here / f"out/quarantine/s{suffix}") == [
        b'{"text": "bad"}',
        b'{"text": "bad too"}',
    ]
    assert not (here / f"out/clean/s{suffix}").exists()


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


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_a_compressed_last_line_without_newline(here: Path, suffix: str) -> None:
    source = write(f"s{suffix}", compress(suffix, b'{"text": "a"}\n{"text": "bad"}\n{"text": "b"}'))
    scan([f"s{suffix}"], here / "out")
    assert lines_of(here / f"out/clean/s{suffix}") == [b'{"text": "a"}', b'{"text": "b"}']
    # Wholly clean, it is copied as it is: the last line stays as the input has it.
    source = write(f"s{suffix}", compress(suffix, b'{"text": "a"}\n{"text": "b"}'))
    scan([f"s{suffix}"], here / "out")
    assert (here / f"out/clean/s{suffix}").read_bytes() == source.read_bytes()


def test_gzip_output_is_reproducible(here: Path) -> None:
    write("s.jsonl.gz", gzip.compress(b'{"text": "bad"}\n{"text": "a"}\n'))
    scan(["s.jsonl.gz"], here / "out")
    first = (here / "out/clean/s.jsonl.gz").read_bytes()
    scan(["s.jsonl.gz"], here / "out")
    assert (here / "out/clean/s.jsonl.gz").read_bytes() == first
    assert gzip.decompress(first) == b'{"text": "a"}\n'
    assert first[4:8] == bytes(4)  # mtime 0


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_a_wholly_clean_compressed_file_is_copied_as_it_is(here: Path, suffix: str) -> None:
    source = write(f"s{suffix}", compress(suffix, joined(many_lines(30000))))
    scan([f"s{suffix}"], here / "out")
    assert (here / f"out/clean/s{suffix}").read_bytes() == source.read_bytes()
    assert files_under(here / "out") == {f"clean/s{suffix}": source.read_bytes()}


@pytest.mark.parametrize("suffix", COMPRESSED)
@pytest.mark.parametrize("where", [0, 1, 12345, 29999])
def test_a_skipped_line_never_reaches_clean(here: Path, suffix: str, where: int) -> None:
    lines = many_lines(30000)
    lines[where] = b'{"no text": 1}'
    write(f"s{suffix}", compress(suffix, joined(lines)))
    _, skipped = scan([f"s{suffix}"], here / "out")
    assert skipped == [
        Skipped(f"s{suffix}:{where + 1}", "no 'text' field and no known chat shape (keys: no text)")
    ]
    assert lines_of(here / f"out/clean/s{suffix}") == lines[:where] + lines[where + 1 :]


@pytest.mark.parametrize("suffix", COMPRESSED)
@pytest.mark.parametrize("where", [0, 7, 29999])
def test_one_quarantined_line_anywhere(here: Path, suffix: str, where: int) -> None:
    lines = many_lines(30000)
    lines[where] = b'{"text": "bad"}'
    write(f"s{suffix}", compress(suffix, joined(lines)))
    scan([f"s{suffix}"], here / "out")
    assert lines_of(here / f"out/clean/s{suffix}") == lines[:where] + lines[where + 1 :]
    assert lines_of(here / f"out/quarantine/s{suffix}") == [b'{"text": "bad"}']


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_a_truncated_clean_stream_writes_the_lines_before_the_break(
    here: Path, suffix: str
) -> None:
    data = compress(suffix, joined(many_lines(30000)), bz2_level=1)
    write(f"s{suffix}", data[: len(data) // 2])
    documents, skipped = scan([f"s{suffix}"], here / "out")
    assert [s.path for s in skipped] == [f"s{suffix}"]
    assert 0 < len(documents) < 30000
    assert lines_of(here / f"out/clean/s{suffix}") == many_lines(len(documents))


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_a_truncated_stream_writes_the_lines_before_the_break(here: Path, suffix: str) -> None:
    records = [
        {"text": f"{'bad' if i % 3 == 0 else 'ok'} {i} " + "w" * (i % 97)} for i in range(40000)
    ]
    data = compress(suffix, jsonl_bytes(*records), bz2_level=1)
    write(f"s{suffix}", data[: len(data) // 2])
    documents, skipped = scan([f"s{suffix}"], here / "out")
    assert skipped[-1].path == f"s{suffix}"
    assert skipped[-1].reason.startswith(f"truncated {WORDS[codec(suffix)]} stream")
    kept = [json.dumps(r).encode() for r in records[: len(documents)]]
    assert 0 < len(kept) < 40000
    assert lines_of(here / f"out/clean/s{suffix}") == [k for k in kept if b'"ok' in k]
    assert lines_of(here / f"out/quarantine/s{suffix}") == [k for k in kept if b'"bad' in k]


# --- clean lines held past HOLD_BYTES ---------------------------------------------------------


@pytest.fixture
def spills(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """HOLD_BYTES made small; every spill file the sink opens, to see that it was closed."""
    monkeypatch.setattr(jsonl, "HOLD_BYTES", 4096)
    opened: list[Any] = []
    make = tempfile.TemporaryFile

    def spy(*args: Any, **kwargs: Any) -> Any:
        fh = make(*args, **kwargs)
        opened.append(fh)
        return fh

    monkeypatch.setattr(jsonl.tempfile, "TemporaryFile", spy)
    return opened


@pytest.mark.parametrize("suffix", COMPRESSED)
@pytest.mark.parametrize("turn", ["quarantined", "skipped"])
def test_a_file_turning_mixed_after_held_bytes_were_spilled(
    here: Path, spills: list[Any], suffix: str, turn: str
) -> None:
    lines = many_lines(3000)  # ~250 KB of clean lines before the turn: many spills
    odd = b'{"text": "bad"}' if turn == "quarantined" else b'{"no text": 1}'
    lines[2500] = odd
    write(f"s{suffix}", compress(suffix, joined(lines)))
    _, skipped = scan([f"s{suffix}"], here / "out")
    assert len(spills) == 1 and all(fh.closed for fh in spills)
    clean = lines[:2500] + lines[2501:]
    assert lines_of(here / f"out/clean/s{suffix}") == clean
    expected = {f"clean/s{suffix}"} | (
        {f"quarantine/s{suffix}"} if turn == "quarantined" else set()
    )
    assert set(files_under(here / "out")) == expected  # no spill file left behind
    assert [s.path for s in skipped] == ([] if turn == "quarantined" else [f"s{suffix}:2501"])


@pytest.mark.parametrize("suffix", COMPRESSED)
def test_a_wholly_clean_file_after_spilling_is_still_copied(
    here: Path, spills: list[Any], suffix: str
) -> None:
    source = write(f"s{suffix}", compress(suffix, joined(many_lines(3000))))
    scan([f"s{suffix}"], here / "out")
    assert len(spills) == 1 and all(fh.closed for fh in spills)
    assert files_under(here / "out") == {f"clean/s{suffix}": source.read_bytes()}


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.xz"])
def test_a_truncated_file_after_spilling_writes_what_was_held(
    here: Path, spills: list[Any], suffix: str
) -> None:
    data = compress(suffix, joined(many_lines(30000)), bz2_level=1)
    write(f"s{suffix}", data[: len(data) // 2])
    documents, _ = scan([f"s{suffix}"], here / "out")
    assert spills and all(fh.closed for fh in spills)
    assert lines_of(here / f"out/clean/s{suffix}") == many_lines(len(documents))
    assert set(files_under(here / "out")) == {f"clean/s{suffix}"}


def test_an_uncompressed_file_is_never_held(here: Path, spills: list[Any]) -> None:
    lines = many_lines(3000)
    write("s.jsonl", joined(lines))
    scan(["s.jsonl"], here / "out")
    assert spills == []
    assert lines_of(here / "out/clean/s.jsonl") == lines


# --- round trips ----------------------------------------------------------------------------


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
        source = write(root / f"in{suffix}", compress(suffix, joined(lines)))
        out = root / "out"
        quarantined = dict(enumerate(flags))

        documents, skipped = scan(
            [str(source)], out, lambda d: quarantined[int(d.doc)], Fields(id="id")
        )
        assert skipped == []
        assert [(d.doc, d.text, d.raw.data) for d in documents] == [
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
            for d in format_of(Unit(str(p), "jsonl", p.name, 0)).read(
                Unit(str(p), "jsonl", p.name, 0), Fields(id="id")
            )
        ]
        assert sorted((d.doc, d.text) for d in reread if isinstance(d, Document)) == sorted(
            (str(i), t) for i, t in enumerate(texts)
        )
