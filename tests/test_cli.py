"""The command line end to end: record, ledger, index, scan, on real files of every format."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from tests.samples import (
    HOST,
    JS_OUTPUT,
    JS_RENAMED,
    PROSE_EDITED,
    PROSE_OUTPUT,
    PY_OUTPUT,
    PY_RENAMED,
    embed,
)


def record_outputs(run, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    lines = [
        {"text": PY_OUTPUT, "vendor": "anthropic", "model": "claude-x", "tool": "claude-code"},
        {"text": JS_OUTPUT, "vendor": "openai", "model": "gpt-x"},
        {"text": PROSE_OUTPUT, "vendor": "anthropic", "model": "claude-y"},
    ]
    path = tmp_path / "outputs.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert run("record", "--jsonl", str(path)).exit_code == 0
    ids = {}
    for name, text in (("py", PY_OUTPUT), ("js", JS_OUTPUT), ("prose", PROSE_OUTPUT)):
        vendor = "openai" if name == "js" else "anthropic"
        model = {"py": "claude-x", "js": "gpt-x", "prose": "claude-y"}[name]
        again = run("record", "-", "--vendor", vendor, "--model", model, input=text)
        ids[name] = again.output.strip()
    return ids


def test_record_is_idempotent_and_prints_the_id(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = run("record", "-", "--vendor", "anthropic", "--model", "m", input=PY_OUTPUT)
    second = run("record", "-", "--vendor", "anthropic", "--model", "m", input=PY_OUTPUT)
    assert first.exit_code == second.exit_code == 0
    assert first.output == second.output and first.output.startswith("out_")
    other = run("record", "-", "--vendor", "anthropic", "--model", "m2", input=PY_OUTPUT)
    assert other.output != first.output
    verify = run("ledger", "verify")
    assert verify.exit_code == 0 and "ok: 2 records" in verify.output


def test_record_jsonl_keeps_good_lines_and_reports_bad_ones(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps({"text": "a" * 50, "vendor": "v", "model": "m"})
        + "\n"
        + "{not json\n"
        + json.dumps({"text": "b" * 50, "vendor": "v"})
        + "\n"
        + json.dumps({"text": "c" * 50, "vendor": "v", "model": "m"})
        + "\n"
    )
    result = run("record", "--jsonl", str(path))
    assert result.exit_code == 2
    assert "mixed.jsonl:2" in result.output and "mixed.jsonl:3" in result.output
    assert "ok: 2 records" in run("ledger", "verify").output


def test_ledger_verify_fails_on_a_tampered_record(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("record", "-", "--vendor", "anthropic", "--model", "m", input=PY_OUTPUT)
    head = run("ledger", "head").output.strip()
    run("record", "-", "--vendor", "anthropic", "--model", "m", input=JS_OUTPUT)
    with sqlite3.connect(tmp_path / "home" / "ledger.db") as db:
        db.execute("UPDATE outputs SET model = 'forged' WHERE seq = 1")
    result = run("ledger", "verify")
    assert result.exit_code == 1 and "TAMPERED" in result.output
    assert run("ledger", "verify", "--expect-head", head).exit_code == 1


def dataset(root: Path) -> dict[str, tuple[str, int, int] | None]:
    """A directory of files; what each holds (output name, span) or None when clean."""
    truth: dict[str, tuple[str, int, int] | None] = {}
    (root / "src" / "deep").mkdir(parents=True)
    doc, s, e = embed(PY_RENAMED)
    (root / "src" / "deep" / "intervals.py").write_text(doc)
    truth["src/deep/intervals.py"] = ("py", s, e)
    doc, s, e = embed(JS_RENAMED, host="// helpers\n" + HOST.replace("def ", "function "))
    (root / "src" / "group.js").write_text(doc)
    truth["src/group.js"] = ("js", s, e)
    (root / "src" / "host.py").write_text(HOST)
    truth["src/host.py"] = None
    (root / "notes.md").write_text("# Notes\n\n" + PROSE_EDITED + "\n")
    truth["notes.md"] = ("prose", 9, 9 + len(PROSE_EDITED))
    (root / "blob.bin").write_bytes(b"\x00\x01binary" * 10)
    (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    return truth


def test_scan_a_directory_splits_it_and_reports_evidence(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = record_outputs(run, tmp_path)
    data = tmp_path / "data"
    truth = dataset(data)
    result = run("scan", "data", "--out", "out", "--workers", "1")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["documents"] == 4 and report["flagged"] == 3
    assert report["bytes"] == sum((data / rel).stat().st_size for rel in truth)
    assert report["seconds"] > 0
    assert {s["path"] for s in report["skipped"]} == {"data/blob.bin", "data/latin1.txt"}
    findings = {f["doc"]: f for f in report["findings"]}
    for rel, expected in truth.items():
        side = "clean" if expected is None else "quarantine"
        assert (tmp_path / "out" / side / rel).read_bytes() == (data / rel).read_bytes()
        if expected is None:
            assert f"data/{rel}" not in findings
            continue
        name, start, end = expected
        match = findings[f"data/{rel}"]["matches"][0]
        assert match["output_id"] == ids[name]
        assert set(match) >= {"output_id", "vendor", "model", "containment", "spans"}
        assert 0 < match["containment"] <= 1
        for s, e in match["spans"]:
            assert start <= s < e <= end


def test_fail_on_findings_and_workers_give_the_same_report(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record_outputs(run, tmp_path)
    dataset(tmp_path / "data")
    one = run("scan", "data", "--out", "one", "--workers", "1", "--fail-on-findings")
    two = run("scan", "data", "--out", "two", "--workers", "2")
    assert one.exit_code == 1 and two.exit_code == 0
    r1 = json.loads((tmp_path / "one" / "report.json").read_text())
    r2 = json.loads((tmp_path / "two" / "report.json").read_text())
    assert r1["findings"] == r2["findings"] and r1["skipped"] == r2["skipped"]


def records() -> list[dict[str, str]]:
    return [
        {"id": "r1", "body": HOST},
        {"id": "r2", "body": embed(PY_OUTPUT)[0]},
        {"id": "r3", "body": "Intro. " + PROSE_OUTPUT},
        {"id": "r4", "body": "short clean text"},
    ]


def jsonl_bytes(rows: list[dict[str, str]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"])
def test_scan_record_files_in_their_own_format(run, tmp_path: Path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    ids = record_outputs(run, tmp_path)
    rows = records()
    path = tmp_path / f"shard{suffix}"
    raw = jsonl_bytes(rows) + (b"{broken json\n" if suffix != ".parquet" else b"")
    if suffix == ".jsonl":
        path.write_bytes(raw)
    elif suffix == ".jsonl.gz":
        path.write_bytes(gzip.compress(raw))
    elif suffix == ".jsonl.zst":
        path.write_bytes(zstandard.ZstdCompressor().compress(raw))
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    result = run("scan", path.name, "--out", "out", "--text-field", "body", "--id-field", "id")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    found = {f["doc"]: f["matches"][0]["output_id"] for f in report["findings"]}
    assert found == {"r2": ids["py"], "r3": ids["prose"]}
    clean, quarantine = (
        read_rows(tmp_path / "out" / side / path.name) for side in ("clean", "quarantine")
    )
    assert [r["id"] for r in clean] == ["r1", "r4"]
    assert [r["id"] for r in quarantine] == ["r2", "r3"]
    if suffix != ".parquet":
        assert report["skipped"][0]["path"] == f"{path.name}:5"


def read_rows(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()  # type: ignore[no-any-return]
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return [json.loads(line) for line in data.splitlines()]


def test_internal_vendors_are_not_hunted_unless_asked(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "distillguard.toml").write_text('[vendors.metacode]\nclass = "internal"\n')
    run("record", "-", "--vendor", "metacode", "--model", "mc-1", input=PY_OUTPUT)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.py").write_text(embed(PY_OUTPUT)[0])
    assert (
        json.loads(
            run("scan", "data", "--out", "o1").output
            and (tmp_path / "o1" / "report.json").read_text()
        )["flagged"]
        == 0
    )
    run("scan", "data", "--out", "o2", "--all-vendors")
    assert json.loads((tmp_path / "o2" / "report.json").read_text())["flagged"] == 1


def test_scan_picks_up_outputs_recorded_since_the_last_scan(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record_outputs(run, tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "late.py").write_text(embed(PY_RENAMED.replace("10_000", "7"))[0])
    run("scan", "data", "--out", "o1")
    late = run(
        "record",
        "-",
        "--vendor",
        "anthropic",
        "--model",
        "m",
        input=PY_OUTPUT.replace("10_000", "7"),
    )
    run("scan", "data", "--out", "o1")
    report = json.loads((tmp_path / "o1" / "report.json").read_text())
    assert late.output.strip() in {m["output_id"] for f in report["findings"] for m in f["matches"]}


def test_clear_errors_exit_2(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = run("scan", "nope", "--out", "o")
    assert missing.exit_code == 2 and "nope" in missing.output
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "precious.txt").write_text("keep me")
    (tmp_path / "data").mkdir()
    refused = run("scan", "data", "--out", "taken")
    assert refused.exit_code == 2 and (tmp_path / "taken" / "precious.txt").exists()
    (tmp_path / "bad.toml").write_text("[vendors.x]\nclass = 'friendly'\n")
    bad = run("--config", "bad.toml", "config", "validate")
    assert bad.exit_code == 2 and "friendly" in bad.output


def test_fingerprints_only_keeps_no_text_and_still_finds_it(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out_id = run(
        "record",
        "-",
        "--vendor",
        "anthropic",
        "--model",
        "m",
        "--fingerprints-only",
        input=PY_OUTPUT,
    ).output.strip()
    with sqlite3.connect(tmp_path / "home" / "ledger.db") as db:
        text, request, prints = db.execute(
            "SELECT text, request, fingerprints FROM outputs"
        ).fetchone()
    assert text is None and request is None and len(prints) > 80
    again = run(
        "record",
        "-",
        "--vendor",
        "anthropic",
        "--model",
        "m",
        "--fingerprints-only",
        input=PY_OUTPUT,
    )
    assert again.output.strip() == out_id
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "copy.py").write_text(embed(PY_RENAMED)[0])
    run("scan", "data", "--out", "out")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [f["matches"][0]["output_id"] for f in report["findings"]] == [out_id]


def test_config_errors_keep_their_brackets(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nid = 3\n\n[vendors.metacode]\nclass = "inside"\n')
    result = run("--config", str(bad), "config", "validate")
    assert result.exit_code == 2
    assert "[[rules]] #1" in result.output
    assert "[vendors.metacode]" in result.output
