"""``distillguard scan`` end to end on training data as it really comes: chat/SFT records,
nested Parquet columns, Hugging Face datasets, CSV, JSON arrays, archives, every codec; and
gates that fail closed."""

from __future__ import annotations

import bz2
import csv
import io
import json
import lzma
import os
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillguard.config import default_db_url
from distillguard.ledger import Ledger
from tests.samples import HOST, JS_OUTPUT, PROSE_OUTPUT, PY_OUTPUT, embed


def record(run, text: str = PY_OUTPUT, vendor: str = "anthropic") -> str:  # type: ignore[no-untyped-def]
    result = run("record", "-", "--vendor", vendor, "--model", "m-1", input=text)
    assert result.exit_code == 0, result.output
    return str(result.output.strip())


def report(tmp_path: Path, out: str = "out") -> dict:  # type: ignore[type-arg]
    return json.loads((tmp_path / out / "report.json").read_text())  # type: ignore[no-any-return]


def chat(turns: list[str]) -> dict:  # type: ignore[type-arg]
    roles = ["system", "user", "assistant", "user", "assistant", "user"]
    return {"messages": [{"role": r, "content": t} for r, t in zip(roles, turns, strict=False)]}


CLEAN_TURNS = [
    "You are a careful assistant.",
    "How do I merge overlapping intervals?",
    "Sort them by start, then sweep and merge the ones that overlap.",
    "Show me the code please.",
    "I would rather you tried it first and showed me what you wrote.",
]


def chat_rows() -> list[dict]:  # type: ignore[type-arg]
    copied = list(CLEAN_TURNS)
    copied[3] = "Here is what I have:\n" + PY_OUTPUT  # the fourth turn holds the copy
    return [chat(CLEAN_TURNS), chat(copied), {"conversations": [{"from": "human", "value": "hi"}]}]


def jsonl_bytes(rows: list[dict]) -> bytes:  # type: ignore[type-arg]
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def test_chat_jsonl_bz2_copy_in_the_fourth_turn_names_its_field(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out_id = record(run)
    (tmp_path / "sft.jsonl.bz2").write_bytes(bz2.compress(jsonl_bytes(chat_rows())))
    result = run("scan", "sft.jsonl.bz2", "--out", "out", "--fail-on-findings")
    assert result.exit_code == 1, result.output
    rep = report(tmp_path)
    assert rep["documents"] == 3 and rep["flagged"] == 1 and rep["skipped"] == []
    (finding,) = rep["findings"]
    assert finding["doc"] == "sft.jsonl.bz2:2"
    (match,) = finding["matches"]
    assert match["output_id"] == out_id and match["field"] == "messages[3].content"
    turn = chat_rows()[1]["messages"][3]["content"]
    for start, end in match["spans"]:
        assert turn.index(PY_OUTPUT) <= start < end <= len(turn)
    assert sum(e - s for s, e in match["spans"]) > len(PY_OUTPUT) // 2
    clean = bz2.decompress((tmp_path / "out/clean/sft.jsonl.bz2").read_bytes()).splitlines()
    quarantine = bz2.decompress((tmp_path / "out/quarantine/sft.jsonl.bz2").read_bytes())
    assert [json.loads(x) for x in clean] == [chat_rows()[0], chat_rows()[2]]
    assert [json.loads(x) for x in quarantine.splitlines()] == [chat_rows()[1]]


def test_an_explicit_text_path_reads_only_that_path(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record(run)
    rows = [{"id": "a", "meta": {"body": embed(PY_OUTPUT)[0]}}, {"id": "b", "meta": {"body": HOST}}]
    (tmp_path / "x.jsonl.xz").write_bytes(lzma.compress(jsonl_bytes(rows)))
    result = run(
        "scan", "x.jsonl.xz", "--out", "out", "--text-field", "meta.body", "--id-field", "id"
    )
    assert result.exit_code == 0, result.output
    (finding,) = report(tmp_path)["findings"]
    assert finding["doc"] == "a" and finding["matches"][0]["field"] == "meta.body"


def test_parquet_nested_messages_column(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out_id = record(run)
    rows = chat_rows()[:2]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "sft.parquet")
    assert pa.types.is_list(pq.read_schema(tmp_path / "sft.parquet").field("messages").type)
    result = run("scan", "sft.parquet", "--out", "out")
    assert result.exit_code == 0, result.output
    (finding,) = report(tmp_path)["findings"]
    assert finding["doc"] == "sft.parquet:1"
    assert finding["matches"][0]["output_id"] == out_id
    assert finding["matches"][0]["field"] == "messages[3].content"
    assert pq.read_table(tmp_path / "out/quarantine/sft.parquet").to_pylist() == [rows[1]]
    assert pq.read_table(tmp_path / "out/clean/sft.parquet").to_pylist() == [rows[0]]


def test_hugging_face_dataset_round_trips_loadably(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import datasets

    record(run)
    rows = [*chat_rows()[:2], chat(CLEAN_TURNS[:3])]
    ds = datasets.Dataset.from_list(rows)
    ds.save_to_disk(str(tmp_path / "data" / "sft"))
    result = run("scan", "data", "--out", "out")
    assert result.exit_code == 0, result.output
    rep = report(tmp_path)
    assert rep["documents"] == 3 and rep["skipped"] == []
    assert [f["doc"] for f in rep["findings"]] == ["data/sft:1"]
    clean = datasets.load_from_disk(str(tmp_path / "out/clean/sft"))
    quarantine = datasets.load_from_disk(str(tmp_path / "out/quarantine/sft"))
    assert clean.features == ds.features == quarantine.features
    assert clean.to_list() == [rows[0], rows[2]] and quarantine.to_list() == [rows[1]]


def test_csv_rows_are_documents(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out_id = record(run, PROSE_OUTPUT)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerows([["id", "text"], ["1", "nothing here"], ["2", "Intro.\n" + PROSE_OUTPUT]])
    writer.writerow(["3", "also nothing"])
    (tmp_path / "rows.csv").write_text(buf.getvalue())
    result = run("scan", "rows.csv", "--out", "out", "--id-field", "id")
    assert result.exit_code == 0, result.output
    (finding,) = report(tmp_path)["findings"]
    assert finding["doc"] == "2" and finding["matches"][0]["output_id"] == out_id
    quarantine = list(
        csv.DictReader(io.StringIO((tmp_path / "out/quarantine/rows.csv").read_text()))
    )
    clean = list(csv.DictReader(io.StringIO((tmp_path / "out/clean/rows.csv").read_text())))
    assert [r["id"] for r in quarantine] == ["2"] and [r["id"] for r in clean] == ["1", "3"]


def test_json_array_of_records(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record(run, JS_OUTPUT, vendor="openai")
    rows = [{"text": "a clean one"}, {"text": "// pasted\n" + JS_OUTPUT}, {"text": HOST}]
    (tmp_path / "set.json").write_text(json.dumps(rows, indent=2))
    result = run("scan", "set.json", "--out", "out")
    assert result.exit_code == 0, result.output
    assert [f["doc"] for f in report(tmp_path)["findings"]] == ["set.json:1"]
    assert json.loads((tmp_path / "out/quarantine/set.json").read_text()) == [rows[1]]
    assert json.loads((tmp_path / "out/clean/set.json").read_text()) == [rows[0], rows[2]]


@pytest.mark.parametrize("name", ["src.tar.gz", "src.zip"])
def test_archive_members_are_documents(run, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    record(run)
    members = {"pkg/a.py": embed(PY_OUTPUT)[0], "pkg/b.py": HOST}
    path = tmp_path / name
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            for member, text in members.items():
                zf.writestr(member, text)
    else:
        with tarfile.open(path, "w:gz") as tf:
            for member, text in members.items():
                info = tarfile.TarInfo(member)
                info.size = len(text.encode())
                tf.addfile(info, io.BytesIO(text.encode()))
    result = run("scan", name, "--out", "out")
    assert result.exit_code == 0, result.output
    assert [f["doc"] for f in report(tmp_path)["findings"]] == [f"{name}:pkg/a.py"]
    assert _members(tmp_path / "out/quarantine" / name) == {"pkg/a.py": members["pkg/a.py"]}
    assert _members(tmp_path / "out/clean" / name) == {"pkg/b.py": members["pkg/b.py"]}


def _members(path: Path) -> dict[str, str]:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            return {n: zf.read(n).decode() for n in zf.namelist()}
    with tarfile.open(path) as tf:
        return {
            m.name: tf.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in tf.getmembers()
            if m.isfile()
        }


def test_unsupported_containers_are_skipped_with_their_true_reason(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record(run)
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.7z").write_bytes(b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(64))
    (data / "b.bin").write_bytes(bz2.compress(b"hello"))
    (data / "c.txt").write_text(HOST)
    result = run("scan", "data", "--out", "out")
    assert result.exit_code == 0, result.output
    reasons = {s["path"]: s["reason"] for s in report(tmp_path)["skipped"]}
    assert reasons["data/a.7z"] == "unsupported container: 7z archive"
    assert reasons["data/b.bin"].startswith("unsupported container: bzip2 stream")


# --- gates ----------------------------------------------------------------------------------


def test_a_gate_fails_when_every_record_was_skipped(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record(run)
    (tmp_path / "x.jsonl").write_text('{"body": 1}\n{"body": 2}\n')
    plain = run("scan", "x.jsonl", "--out", "out")
    assert plain.exit_code == 0 and "warning" in plain.output
    gated = run("scan", "x.jsonl", "--out", "out", "--fail-on-findings")
    assert gated.exit_code == 2
    assert "no documents were read" in gated.output and "2 input(s)" in gated.output
    allowed = run("scan", "x.jsonl", "--out", "out", "--fail-on-findings", "--allow-skipped")
    assert allowed.exit_code == 2 and "no documents were read" in allowed.output
    assert report(tmp_path)["unchecked"] == ["no documents were read: nothing was checked"]


def test_a_gate_fails_on_skipped_inputs_unless_allowed(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record(run)
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.py").write_text(HOST)
    (data / "blob.bin").write_bytes(b"\0\1\2")
    gated = run("scan", "data", "--out", "out", "--fail-on-findings")
    assert gated.exit_code == 2 and "1 input(s) could not be read" in gated.output
    allowed = run("scan", "data", "--out", "out", "--fail-on-findings", "--allow-skipped")
    assert allowed.exit_code == 0, allowed.output


def empty_ledger(tmp_path: Path) -> None:
    """Create the ``run`` fixture's ledger, empty (a scan only reads one; it never creates it)."""
    Ledger(default_db_url(tmp_path / "home")).close()


def test_a_gate_fails_against_an_empty_index(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ok.py").write_text(HOST)
    empty_ledger(tmp_path)
    gated = run("scan", "ok.py", "--out", "out", "--fail-on-findings")
    assert gated.exit_code == 2 and "the index holds no outputs" in gated.output
    (tmp_path / "distillguard.toml").write_text('[vendors.metacode]\nclass = "internal"\n')
    record(run, vendor="metacode")
    internal = run("scan", "ok.py", "--out", "out", "--fail-on-findings")
    assert internal.exit_code == 2 and "no vendor in the index is hunted" in internal.output


def test_policy_without_a_rule_for_the_purpose_is_a_usage_error(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record(run)
    (tmp_path / "ok.py").write_text(embed(PY_OUTPUT)[0])
    missing = run("scan", "ok.py", "--out", "out", "--policy", "training")
    assert missing.exit_code == 2 and "no [[rules]] entry lists 'training'" in missing.output
    assert not (tmp_path / "out").exists()
    (tmp_path / "distillguard.toml").write_text(
        '[[rules]]\nid = "no-outside"\ndatasets = ["training"]\ndeny = "external"\n'
    )
    violated = run("scan", "ok.py", "--out", "out", "--policy", "training")
    assert violated.exit_code == 1 and "no-outside" in violated.output


@pytest.mark.parametrize("name", ["set.arrow", "set.feather", "set.tsv", "set.json.gz"])
def test_more_record_containers_from_the_command_line(run, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    import gzip

    import pyarrow.feather as feather

    record(run)
    rows = [{"id": "a", "text": HOST}, {"id": "b", "text": embed(PY_OUTPUT)[0]}]
    path = tmp_path / name
    table = pa.Table.from_pylist(rows)
    if name.endswith(".arrow"):
        with pa.ipc.new_file(path, table.schema) as writer:
            writer.write_table(table)
    elif name.endswith(".feather"):
        feather.write_feather(table, path)
    elif name.endswith(".tsv"):
        buf = io.StringIO()
        writer = csv.DictWriter(buf, ["id", "text"], dialect="excel-tab")
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(buf.getvalue())
    else:
        path.write_bytes(gzip.compress(json.dumps(rows).encode()))
    result = run("scan", name, "--out", "out", "--id-field", "id", "--fail-on-findings")
    assert result.exit_code == 1, result.output
    rep = report(tmp_path)
    assert rep["documents"] == 2 and rep["skipped"] == []
    assert [f["doc"] for f in rep["findings"]] == ["b"]
    assert (tmp_path / "out/clean" / name).exists() and (
        tmp_path / "out/quarantine" / name
    ).exists()


# --- names, the output directory, bounds ------------------------------------------------------


def test_names_that_are_not_utf8_are_reported_losslessly(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """POSIX names are bytes: before, one such name crashed the report (TypeError, exit 1)."""
    import base64

    out_id = record(run)
    copy = embed(PY_OUTPUT)[0]
    files = {
        b"data/caf\xe9.bin": b"\0\1\2",
        b"data/sub\xff/copy\xe9.py": copy.encode(),
        b"data/r\xe9.jsonl": jsonl_bytes([{"text": HOST}, {"text": copy}]),
        b"data/ok.py": b"print('ok')\n",
    }
    for name, data in files.items():
        os.makedirs(os.path.dirname(name), exist_ok=True)
        with open(name, "wb") as fh:
            fh.write(data)
    result = run("scan", "data", "--out", "out")
    assert result.exit_code == 0, result.output
    assert "data/caf\\xe9.bin: binary file" in " ".join(result.output.split())
    rep = report(tmp_path)

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    found = {f["doc"]: f.get("doc_bytes") for f in rep["findings"]}
    assert found == {
        "data/r\\xe9.jsonl:2": b64(b"data/r\xe9.jsonl:2"),
        "data/sub\\xff/copy\\xe9.py": b64(b"data/sub\xff/copy\xe9.py"),
    }
    assert {m["output_id"] for f in rep["findings"] for m in f["matches"]} == {out_id}
    assert rep["skipped"] == [
        {
            "path": "data/caf\\xe9.bin",
            "path_bytes": b64(b"data/caf\xe9.bin"),
            "reason": "binary file",
        }
    ]
    assert os.listdir(b"out/quarantine/sub\xff") == [b"copy\xe9.py"]
    assert sorted(os.listdir(b"out/clean")) == [b"ok.py", b"r\xe9.jsonl"]
    assert (tmp_path / "out/clean/ok.py").read_bytes() == files[b"data/ok.py"]
    with open(b"out/quarantine/r\xe9.jsonl", "rb") as fh:
        assert json.loads(fh.read()) == {"text": copy}


def test_scan_refuses_to_replace_what_it_did_not_write(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A user's own clean/ and report.json, all the directory holds: before, deleted."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data/a.py").write_text("print('a')\n")
    (tmp_path / "out/clean").mkdir(parents=True)
    (tmp_path / "out/clean/mine.txt").write_text("mine")
    (tmp_path / "out/report.json").write_text('{"mine": true}')
    empty_ledger(tmp_path)
    refused = run("scan", "data", "--out", "out")
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())
    assert "distillguard did not write it" in said and "--overwrite" in said
    assert (tmp_path / "out/clean/mine.txt").read_text() == "mine"
    assert (tmp_path / "out/report.json").read_text() == '{"mine": true}'
    replaced = run("scan", "data", "--out", "out", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert not (tmp_path / "out/clean/mine.txt").exists()
    assert report(tmp_path)["documents"] == 1
    again = run("scan", "data", "--out", "out")  # its own output: replaced without asking
    assert again.exit_code == 0, again.output


def test_a_file_of_many_bad_lines_lists_the_first_hundred(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record(run)
    (tmp_path / "bad.jsonl").write_bytes(b'{"text": "fine"}\n' + b"x\n" * 250)
    result = run("scan", "bad.jsonl", "--out", "out", "--fail-on-findings")
    assert result.exit_code == 2
    assert "250 input(s) could not be read" in " ".join(result.output.split())
    rep = report(tmp_path)
    assert rep["documents"] == 1 and rep["skipped_total"] == 250
    assert len(rep["skipped"]) == 101
    assert [s["path"] for s in rep["skipped"][:2]] == ["bad.jsonl:2", "bad.jsonl:3"]
    last = rep["skipped"][-1]
    assert last["path"] == "bad.jsonl"
    assert last["reason"].startswith(
        "150 more entries skipped in this input, not listed (only the first 100 are); the "
        "first of them: bad.jsonl:102: malformed JSON"
    )


def test_scan_limits_come_from_the_config_and_the_flags(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "distillguard.toml").write_text(
        '[scan]\nmax_document_bytes = "1 KiB"\nmax_ratio = 5\n'
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "data/big.md").write_text("word " * 400)
    empty_ledger(tmp_path)
    first = run("scan", "data", "--out", "out")
    assert first.exit_code == 0, first.output
    rep = report(tmp_path)
    assert rep["limits"] == {"max_document_bytes": 1024, "max_ratio": 5}
    assert rep["documents"] == 0 and rep["skipped"][0]["reason"].startswith("file too large")
    flagged = run(
        "scan", "data", "--out", "out", "--max-document-bytes", "4KiB", "--max-ratio", "7"
    )
    assert flagged.exit_code == 0, flagged.output
    rep = report(tmp_path)
    assert rep["limits"] == {"max_document_bytes": 4096, "max_ratio": 7}
    assert rep["documents"] == 1
    bad = run("scan", "data", "--out", "out", "--max-document-bytes", "lots")
    assert bad.exit_code == 2 and "is not a size" in " ".join(bad.output.split())


def test_one_function_of_a_long_answer_is_reported_with_its_part(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.scan.test_detection import FIVE_BLOCKS, five_block_answer

    monkeypatch.setenv("COLUMNS", "240")  # the summary table on one line per finding
    answer = five_block_answer()
    output_id = record(run, answer, vendor="openai")
    data = tmp_path / "data"
    data.mkdir()
    go = FIVE_BLOCKS[1][1]
    (data / "merge.go").write_text('package intervals\n\nimport "sort"\n\n' + go)
    result = run("scan", str(data), "--out", "out", "--workers", "1")
    assert result.exit_code == 0, result.output
    (finding,) = report(tmp_path)["findings"]
    (match,) = finding["matches"]
    assert match["output_id"] == output_id and match["containment"] < 0.25
    (part,) = match["parts"]
    assert part["kind"] == "code" and part["containment"] >= 0.5
    assert answer.splitlines()[part["lines"][0] - 1].startswith("func MergeIntervals")
    assert f"part {part['part']} lines {part['lines'][0]}-{part['lines'][1]}" in result.output
