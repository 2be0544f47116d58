"""Names that are not UTF-8 (POSIX names are bytes) in the report: readable and lossless."""

from __future__ import annotations

import base64
import os

import orjson

from distillguard.scan.names import portable, raw_bytes, shown
from distillguard.scan.report import report_bytes

NAME = os.fsdecode(b"data/caf\xe9.bin")  # as os.scandir gives it: caf\udce9.bin


def test_a_name_that_is_utf8_is_left_as_it_is() -> None:
    for name in ("data/café.py", "a\\b", "x\\xe9y"):
        assert raw_bytes(name) is None and shown(name) == name


def test_bytes_that_are_not_utf8_are_shown_escaped_and_kept_exactly() -> None:
    assert raw_bytes(NAME) == b"data/caf\xe9.bin"
    assert shown(NAME) == "data/caf\\xe9.bin"
    # a lone surrogate has no byte behind it: it is shown as its UTF-8
    assert shown("lone \ud800 surrogate") == "lone \\xed\\xa0\\x80 surrogate"


def test_every_string_of_a_report_is_made_portable_with_its_bytes_beside() -> None:
    report = {
        "documents": 1,
        "findings": [{"doc": NAME + ":3", "matches": [{"spans": [[0, 4]]}]}],
        "skipped": [{"path": NAME, "reason": f"symlink to {NAME}: not followed"}],
        "policy": {"violations": [{"doc": NAME, "rule_id": "r"}]},
        "unchecked": [f"about {NAME}"],
    }
    loaded = orjson.loads(report_bytes(report))  # strict UTF-8 JSON
    b64 = base64.b64encode(b"data/caf\xe9.bin").decode()
    assert loaded["findings"] == [
        {
            "doc": "data/caf\\xe9.bin:3",
            "doc_bytes": base64.b64encode(b"data/caf\xe9.bin:3").decode(),
            "matches": [{"spans": [[0, 4]]}],
        }
    ]
    assert loaded["skipped"][0]["path"] == "data/caf\\xe9.bin"
    assert loaded["skipped"][0]["path_bytes"] == b64
    assert loaded["skipped"][0]["reason"] == "symlink to data/caf\\xe9.bin: not followed"
    assert loaded["policy"]["violations"][0]["doc_bytes"] == b64
    assert loaded["unchecked"] == ["about data/caf\\xe9.bin"]
    assert base64.b64decode(loaded["skipped"][0]["path_bytes"]) == os.fsencode(NAME)


def test_a_report_of_utf8_names_is_unchanged() -> None:
    report = {"findings": [{"doc": "data/café.py", "matches": []}], "skipped": []}
    assert orjson.loads(report_bytes(report)) == report
    assert portable(report) == report
