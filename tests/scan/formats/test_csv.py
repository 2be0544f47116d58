"""CSV and TSV: rows as documents, every bad input as a Skipped, rows written back byte for byte."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.scan.formats import csv as csv_format
from distillguard.scan.formats.base import Document, Fields, Limits, Skipped, Unit

CODECS = [".gz", ".bz2", ".xz", ".zst"]
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "": lambda data: data,
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": zstandard.ZstdCompressor().compress,
}
HEADER = ["id", "text"]
Rows = Sequence[Sequence[str]]
Decide = Callable[[Document], bool]


def by_text(doc: Document) -> bool:
    return "bad" in doc.text


def csv_bytes(rows: Rows, dialect: type[csv.Dialect] = csv.excel) -> bytes:
    """Rows as the standard csv module writes them (``\\r\\n`` line ends, minimal quoting)."""
    buf = io.StringIO(newline="")
    csv.writer(buf, dialect).writerows(rows)
    return buf.getvalue().encode()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(COMPRESS[codec(path)](data))
    return path


def write_rows(path: Path, rows: Rows) -> Path:
    dialect = csv.excel_tab if ".tsv" in path.name else csv.excel
    return write(path, csv_bytes(rows, dialect))


def codec(path: Path) -> str:
    return next((c for c in CODECS if path.name.endswith(c)), "")


def decompressed(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".bz2"):
        return bz2.decompress(data)
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".zst"):
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    return data


def unit_of(path: Path) -> Unit:
    return Unit(str(path), "csv", path.name, path.stat().st_size if path.exists() else 0)


def read(path: Path, fields: Fields | None = None) -> list[Document | Skipped]:
    return list(csv_format.FORMAT.read(unit_of(path), fields or Fields()))


def docs_of(items: list[Document | Skipped]) -> list[tuple[str, str]]:
    return [(item.doc, item.text) for item in items if isinstance(item, Document)]


def skipped_of(items: list[Document | Skipped]) -> list[Skipped]:
    return [item for item in items if isinstance(item, Skipped)]


def scan(
    path: Path, out: Path, decide: Decide = by_text, fields: Fields | None = None
) -> list[Document | Skipped]:
    """What the engine does with one unit, ``decide`` standing for the matcher."""
    for side in ("clean", "quarantine"):
        (out / side).mkdir(parents=True, exist_ok=True)
    unit = unit_of(path)
    sink = csv_format.FORMAT.sink(unit, out)
    items: list[Document | Skipped] = []
    try:
        for item in csv_format.FORMAT.read(unit, fields or Fields()):
            if isinstance(item, Document):
                sink.write(item, decide(item))
            items.append(item)
    finally:
        sink.close()
    return items


def dict_rows(path: Path) -> list[dict[str, str]]:
    text = decompressed(path).decode()
    dialect = csv.excel_tab if ".tsv" in path.name else csv.excel
    return list(csv.DictReader(io.StringIO(text, newline=""), dialect=dialect))


# --- reading --------------------------------------------------------------------------------


def test_rows_are_documents_named_by_the_line_they_start_on(tmp_path: Path) -> None:
    rows = [HEADER, ["1", "first"], ["2", 'two\nlines, quoted "too"'], ["3", ""], ["4", "last"]]
    path = write_rows(tmp_path / "data.csv", rows)
    items = read(path)
    assert docs_of(items) == [
        (f"{path}:2", "first"),
        (f"{path}:3", 'two\nlines, quoted "too"'),
        (f"{path}:5", ""),
        (f"{path}:6", "last"),
    ]
    sizes = [doc.size() for doc in items if isinstance(doc, Document)]
    assert sizes == [len(csv_bytes([row])) for row in rows[1:]]


@pytest.mark.parametrize("suffix", ["", *CODECS])
def test_compressed_csv_and_tsv_read_alike(tmp_path: Path, suffix: str) -> None:
    rows = [["text", "source"], ["a, with comma", "x"], ["tab\there", "y"], ["multi\nline", "z"]]
    for ext in (".csv", ".tsv"):
        path = write_rows(tmp_path / f"data{ext}{suffix}", rows)
        items = read(path)
        assert skipped_of(items) == []
        assert [text for _, text in docs_of(items)] == ["a, with comma", "tab\there", "multi\nline"]
        assert [name for name, _ in docs_of(items)] == [f"{path}:2", f"{path}:3", f"{path}:4"]


def test_tsv_is_tab_separated(tmp_path: Path) -> None:
    path = write(tmp_path / "t.tsv", b"id\ttext\n1\tcommas, stay, text\n")
    assert docs_of(read(path)) == [(f"{path}:2", "commas, stay, text")]


def test_chat_shaped_columns_give_a_document_with_fields(tmp_path: Path) -> None:
    path = write_rows(
        tmp_path / "chat.csv", [["prompt", "completion", "id"], ["Q?", "A!", "7"], ["", "", "8"]]
    )
    items = read(path)
    doc = items[0]
    assert isinstance(doc, Document)
    assert (doc.doc, doc.text) == (f"{path}:2", "Q?\n\nA!")
    assert doc.fields == (("prompt", 0), ("completion", 4))
    assert items[1] == Skipped(f"{path}:3", "a chat record without any text")


def test_instruction_output_columns_are_a_chat(tmp_path: Path) -> None:
    rows = [["instruction", "input", "output"], ["Do it", "", "Done"]]
    path = write_rows(tmp_path / "alpaca.csv", rows)
    assert docs_of(read(path)) == [(f"{path}:2", "Do it\n\nDone")]


def test_text_and_id_columns_by_name(tmp_path: Path) -> None:
    rows = [["key", "body"], ["a1", "hello"], ["", "no id"], ["b2", "bye"]]
    path = write_rows(tmp_path / "named.csv", rows)
    items = read(path, Fields(text="body", id="key"))
    assert docs_of(items) == [("a1", "hello"), ("b2", "bye")]
    assert skipped_of(items) == [Skipped(f"{path}:3", "'key' is empty")]


def test_a_byte_order_mark_is_not_part_of_a_column_name(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.csv", b"\xef\xbb\xbf" + csv_bytes([HEADER, ["1", "hi"]]))
    assert docs_of(read(path)) == [(f"{path}:2", "hi")]


def test_a_field_over_csvs_default_limit_reads_and_the_limit_is_restored(tmp_path: Path) -> None:
    before = csv.field_size_limit()
    big = "word, " * 50_000  # 300 kB, over csv's 128 KiB default
    path = write_rows(tmp_path / "big.csv", [HEADER, ["1", big], ["2", "after"]])
    assert docs_of(read(path)) == [(f"{path}:2", big), (f"{path}:3", "after")]
    assert csv.field_size_limit() == before


# --- bad input ------------------------------------------------------------------------------


ROWS_AROUND = csv_bytes([HEADER, ["1", "before"]]), csv_bytes([["9", "after"]])


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"2,x,extra\r\n", "3 fields where the header has 2"),
        (b"2\r\n", "1 field where the header has 2"),
        (b"2,caf\xe9\r\n", "invalid UTF-8 at byte 5 of the row"),
        (b'2,"two\nlines \xff"\r\n', "invalid UTF-8 at byte 13 of the row"),
        (b"2,a\x00b\r\n", "NUL byte at byte 3 of the row"),
        (b"2,a\rb\r\n", "a carriage return inside an unquoted field (rows end in \\n or \\r\\n)"),
        (b"\r\n", "blank line (no CSV row)"),
    ],
)
def test_a_bad_row_is_skipped_and_the_others_read(tmp_path: Path, bad: bytes, reason: str) -> None:
    before, after = ROWS_AROUND
    path = write(tmp_path / "bad.csv", before + bad + after)
    items = read(path)
    lines = bad.count(b"\n")
    assert docs_of(items) == [(f"{path}:2", "before"), (f"{path}:{3 + lines}", "after")]
    assert skipped_of(items) == [Skipped(f"{path}:3", reason)]


def test_an_unterminated_quote_at_the_end_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "open.csv", csv_bytes([HEADER, ["1", "ok"]]) + b'2,"never\nclosed\n')
    items = read(path)
    assert docs_of(items) == [(f"{path}:2", "ok")]
    assert skipped_of(items) == [
        Skipped(f"{path}:3", "unterminated quoted field at the end of the file")
    ]


def over_cap(cap: int) -> str:
    return (
        f"row over the {cap:,}-byte cap; raise it with --max-document-bytes or "
        "[scan] max_document_bytes"
    )


def capped_to(cap: int) -> Fields:
    return Fields(limits=Limits(document_bytes=cap))


def test_a_row_over_the_cap_is_skipped_and_the_rows_after_it_parse(tmp_path: Path) -> None:
    tricky = "x" * 70 + '\n5,"fake row"\n"",,"' + "y" * 100 + "\r\n6,also fake\n"
    rows = [HEADER, ["1", "short"], ["2", tricky], ["3", "z" * 80], ["4", "after"]]
    path = write_rows(tmp_path / "capped.csv", rows)
    items = read(path, capped_to(64))
    assert docs_of(items) == [(f"{path}:2", "short"), (f"{path}:9", "after")]
    reason = over_cap(64)
    assert skipped_of(items) == [Skipped(f"{path}:3", reason), Skipped(f"{path}:8", reason)]


TEXT = st.text(
    st.one_of(
        st.sampled_from(list('ab,"\n\r\t é')),
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(TEXT, max_size=8), cap=st.integers(8, 80))
def test_rows_over_the_cap_never_disturb_the_others(texts: list[str], cap: int) -> None:
    """Whatever the rows hold, a row within the cap reads as without it; one over it is
    skipped with that reason, and nothing else changes."""
    rows = [HEADER, *([str(i), text] for i, text in enumerate(texts))]
    sizes = [len(csv_bytes([row])) for row in rows[1:]]
    limit = max(cap, len(csv_bytes([HEADER])))
    with tempfile.TemporaryDirectory() as tmp:
        path = write_rows(Path(tmp) / "p.csv", rows)
        whole = read(path)
        capped = read(path, capped_to(limit))
    assert [(d.doc, d.text) for d in whole if isinstance(d, Document)] == [
        (f"{path}:{line}", text) for line, text in zip(_starts(rows), texts, strict=True)
    ]
    for size, plain, item in zip(sizes, whole, capped, strict=True):
        assert isinstance(plain, Document)
        if size <= limit:
            assert isinstance(item, Document)
            assert (item.doc, item.text) == (plain.doc, plain.text)
        else:
            assert item == Skipped(plain.doc, over_cap(limit))


def _starts(rows: Rows) -> list[int]:
    """The line each data row starts on."""
    line, starts = 2, []
    for row in rows[1:]:
        starts.append(line)
        line += csv_bytes([row]).count(b"\n")
    return starts


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no header row: the file is empty"),
        (b"\r\ntext\r\nhello\r\n", "no header row: line 1 is blank"),
        (b"te\xffxt\r\nhello\r\n", "no usable header row: invalid UTF-8 at byte 2 of the row"),
        (
            b'"text\nhello\n',
            "no usable header row: unterminated quoted field at the end of the file",
        ),
        (b"text,id,text\r\nhello,1,x\r\n", "column 'text' appears twice in the header"),
        (
            b"body,source\r\nhello,x\r\n",
            "no 'text' column and no known chat shape (columns: body, source)",
        ),
        (
            b"prompt,answer\r\nhello,x\r\n",
            "no 'text' column and no known chat shape (columns: prompt, answer)",
        ),
    ],
)
def test_a_file_without_a_usable_header_is_one_skipped(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    path = write(tmp_path / "h.csv", data)
    assert read(path) == [Skipped(str(path), reason)]


def test_missing_named_columns_are_named(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "n.csv", [["text", *(f"c{i}" for i in range(25))]])
    columns = ", ".join(["text", *(f"c{i}" for i in range(19))]) + ", ..."
    assert read(path, Fields(text="body")) == [
        Skipped(str(path), f"no 'body' column (columns: {columns})")
    ]
    assert read(path, Fields(id="key")) == [
        Skipped(str(path), f"no 'key' column (columns: {columns})")
    ]


def test_a_missing_file_is_skipped_with_the_systems_words(tmp_path: Path) -> None:
    assert read(tmp_path / "gone.csv") == [
        Skipped(str(tmp_path / "gone.csv"), "No such file or directory")
    ]


def test_a_truncated_stream_keeps_the_rows_before_the_break(tmp_path: Path) -> None:
    rows = [HEADER, *([str(i), f"row {i} " + "x" * 50] for i in range(2000))]
    path = tmp_path / "cut.csv.gz"
    full = gzip.compress(csv_bytes(rows))
    path.write_bytes(full[: len(full) // 2])
    items = read(path)
    docs = docs_of(items)
    assert 0 < len(docs) < 2000
    assert docs == [(f"{path}:{i + 2}", rows[i + 1][1]) for i in range(len(docs))]
    assert items[-1] == Skipped(
        str(path),
        f"truncated gzip stream (ends inside a member); read stopped after line {len(docs) + 1}",
    )


def test_a_corrupt_stream_is_skipped_with_the_codecs_words(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\xff" * 40)
    items = read(path)
    assert len(items) == 1 and isinstance(items[0], Skipped)
    assert items[0].path == str(path)
    assert items[0].reason.startswith("corrupt zstd stream")


# --- writing --------------------------------------------------------------------------------


MIXED = [
    HEADER,
    ["1", "good"],
    ["2", 'bad\nacross lines, with "quotes"'],
    ["3", "also good\r\nwith a CRLF inside"],
    ["4", "bad again"],
    ["5", "good, last"],
]


@pytest.mark.parametrize("suffix", ["", *CODECS])
def test_rows_go_to_their_side_byte_for_byte(tmp_path: Path, suffix: str) -> None:
    path = write_rows(tmp_path / f"data.csv{suffix}", MIXED)
    out = tmp_path / "out"
    scan(path, out)
    clean, quarantine = out / "clean" / path.name, out / "quarantine" / path.name
    assert dict_rows(clean) == [{"id": r[0], "text": r[1]} for r in MIXED if r[0] in "135"]
    assert dict_rows(quarantine) == [{"id": r[0], "text": r[1]} for r in MIXED if r[0] in "24"]
    assert decompressed(clean) == csv_bytes([MIXED[0], MIXED[1], MIXED[3], MIXED[5]])
    assert decompressed(quarantine) == csv_bytes([MIXED[0], MIXED[2], MIXED[4]])


@pytest.mark.parametrize("suffix", ["", *CODECS])
def test_a_wholly_clean_file_is_copied_as_it_is(tmp_path: Path, suffix: str) -> None:
    path = write_rows(tmp_path / f"data.tsv{suffix}", [HEADER, ["1", "fine"], ["2", "also"]])
    out = tmp_path / "out"
    scan(path, out)
    assert (out / "clean" / path.name).read_bytes() == path.read_bytes()
    assert not (out / "quarantine" / path.name).exists()


def test_rows_as_they_are_in_the_file(tmp_path: Path) -> None:
    """Odd but valid bytes (LF and CRLF mixed, spare quotes, no final newline) come back."""
    data = b'\xef\xbb\xbf"id",text\n1,"good"\r\n"2","bad ""x"""\n3,"good\r\nagain"'
    path = write(tmp_path / "odd.csv", data)
    out = tmp_path / "out"
    scan(path, out)
    assert (out / "clean" / "odd.csv").read_bytes() == (
        b'\xef\xbb\xbf"id",text\n1,"good"\r\n3,"good\r\nagain"'
    )
    assert (out / "quarantine" / "odd.csv").read_bytes() == (
        b'\xef\xbb\xbf"id",text\n"2","bad ""x"""\n'
    )


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_clean_prefix_then_a_quarantined_row(tmp_path: Path, suffix: str) -> None:
    rows = [HEADER, *([str(i), "good"] for i in range(50)), ["50", "bad"], ["51", "good"]]
    path = write_rows(tmp_path / f"p.csv{suffix}", rows)
    out = tmp_path / "out"
    scan(path, out)
    assert decompressed(out / "clean" / path.name) == csv_bytes(rows[:51] + rows[52:])
    assert decompressed(out / "quarantine" / path.name) == csv_bytes([HEADER, rows[51]])


def test_skipped_rows_are_in_neither_side(tmp_path: Path) -> None:
    before, after = ROWS_AROUND
    path = write(tmp_path / "s.csv", before + b"2,x,extra\r\n" + after)
    out = tmp_path / "out"
    scan(path, out)
    assert (out / "clean" / "s.csv").read_bytes() == before + after
    assert not (out / "quarantine" / "s.csv").exists()


def test_all_quarantined_makes_no_clean_file(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "q.csv", [HEADER, ["1", "bad"], ["2", "bad too"]])
    out = tmp_path / "out"
    scan(path, out)
    assert not (out / "clean" / "q.csv").exists()
    assert (out / "quarantine" / "q.csv").read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    ("data", "clean"),
    [
        (b"", b""),
        (b"id,text\r\n", b"id,text\r\n"),
        (b"id,text", b"id,text"),
        (b"body\r\nhello\r\n", b"body\r\n"),
        (b"te\xffxt\r\nhello\r\n", b""),
    ],
)
@pytest.mark.parametrize("suffix", ["", ".zst"])
def test_a_unit_without_documents_gets_a_clean_file_with_its_header(
    tmp_path: Path, data: bytes, clean: bytes, suffix: str
) -> None:
    path = write(tmp_path / f"e.csv{suffix}", data)
    out = tmp_path / "out"
    assert docs_of(scan(path, out)) == []
    assert decompressed(out / "clean" / path.name) == clean
    assert not (out / "quarantine" / path.name).exists()


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_a_broken_stream_writes_the_rows_read(tmp_path: Path, suffix: str) -> None:
    rows = [HEADER, *([str(i), f"{'bad' if i == 3 else 'ok'} " + "x" * 50] for i in range(20_000))]
    path = tmp_path / f"cut.csv{suffix}"
    full = COMPRESS[suffix](csv_bytes(rows))
    path.write_bytes(full[: len(full) // 2])
    out = tmp_path / "out"
    n = len(docs_of(scan(path, out)))
    assert 3 < n < 20_000
    assert decompressed(out / "clean" / path.name) == csv_bytes(rows[:4] + rows[5 : n + 1])
    assert decompressed(out / "quarantine" / path.name) == csv_bytes([HEADER, rows[4]])


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(TEXT, max_size=10), suffix=st.sampled_from(["", ".gz", ".zst"]))
def test_round_trip(texts: list[str], suffix: str) -> None:
    """Whatever the texts, every row is a document, and the sides hold exactly their rows."""
    rows = [HEADER, *([str(i), text] for i, text in enumerate(texts))]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_rows(Path(tmp) / f"r.csv{suffix}", rows)
        out = Path(tmp) / "out"
        items = scan(path, out, decide=lambda doc: "b" in doc.text)
        assert [text for _, text in docs_of(items)] == texts
        clean = [row for row in rows[1:] if "b" not in row[1]]
        quarantined = [row for row in rows[1:] if "b" in row[1]]
        for side, kept in (("clean", clean), ("quarantine", quarantined)):
            written = out / side / path.name
            if kept or (side == "clean" and not quarantined):
                assert decompressed(written) == csv_bytes([HEADER, *kept])
                assert dict_rows(written) == [dict(zip(HEADER, row, strict=True)) for row in kept]
            else:
                assert not written.exists()
