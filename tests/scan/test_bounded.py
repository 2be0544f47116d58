"""A scan stays bounded: inputs built to exhaust memory (bombs, endless lines, huge binaries,
huge documents) cost the scan about nothing, and each is ``skipped`` with its reason.

Each attack runs ``distillguard scan`` as a process of its own and measures its peak RSS (by a
wrapper process, so only that scan counts) against a scan of a tiny file: the caps are lowered
where the real size would be slow to build; the 4 KB gzip of 4 million newlines is real size.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from distillguard.config import default_db_url
from distillguard.ledger import Ledger

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="peak RSS as Linux reports it")

MiB = 1 << 20
# What an attack may add to the peak RSS of a scan of a tiny file: far below what each cost
# before it was bounded (2 GB, 9 GB, 2.2 GB, 3.7 GB).
MARGIN = 150 * MiB
HINT = "; raise it with --max-document-bytes or [scan] max_document_bytes"
WRAPPER = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"rc": done.returncode, "out": done.stdout + done.stderr, "peak": peak}))
"""


def distillguard() -> list[str]:
    script = Path(sys.executable).parent / "distillguard"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from distillguard.cli import main; main()"]


def scan(tmp_path: Path, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``distillguard scan ARGS --out out`` in ``tmp_path`` (one worker): its exit code,
    output and peak RSS, and its report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILLGUARD_")}
    env["DISTILLGUARD_HOME"] = str(tmp_path / "home")
    Ledger(default_db_url(tmp_path / "home")).close()  # a scan reads a ledger, never makes one
    command = [*distillguard(), "scan", *args, "--out", "out", "--workers", "1"]
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["rc"] == 0, result["out"]
    report = json.loads((tmp_path / "out" / "report.json").read_bytes())
    return result, report


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> int:
    """The peak RSS of a scan of one small record."""
    tmp_path = tmp_path_factory.mktemp("baseline")
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "a.jsonl").write_text('{"text": "hello"}\n')
    result, report = scan(tmp_path, "tiny")
    assert report["documents"] == 1
    peak: int = result["peak"]
    return peak


def put(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"data/{name}"


def gzip_of(pieces: list[tuple[bytes, int]]) -> bytes:
    """A gzip stream of each ``(block, times)`` in order, made without holding the whole."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [comp.compress(block) for block, times in pieces for _ in range(times)]
    return b"".join(out) + comp.flush()


def test_a_4kb_gzip_of_4_million_newlines_costs_one_entry_and_no_memory(
    tmp_path: Path, baseline: int
) -> None:
    """Real size: before, 2 GB of RSS and a 519 MB report (an entry per blank line)."""
    data = gzip.compress(b"\n" * 4_000_000, 9)
    assert len(data) < 8 << 10
    name = put(tmp_path, "nl.jsonl.gz", data)
    result, report = scan(tmp_path, "data")
    assert report["documents"] == 0
    assert report["skipped"] == [
        {"path": name, "reason": "4,000,000 blank lines (no JSON record): lines 1, 2, 3, 4, 5, ..."}
    ]
    assert (tmp_path / "out" / "report.json").stat().st_size < 8 << 10
    assert result["peak"] < baseline + MARGIN


def test_a_line_over_the_cap_is_read_past_not_gathered(tmp_path: Path, baseline: int) -> None:
    """A 96 MiB single line from 100 KB of gzip (before: the line, its text and the matcher's
    arrays in memory: a 3 GiB line took RSS past 9 GB)."""
    data = gzip_of([(b'{"text": "', 1), (b"a" * MiB, 96), (b'"}\n{"text": "after"}\n', 1)])
    name = put(tmp_path, "long.jsonl.gz", data)
    result, report = scan(tmp_path, "data", "--max-document-bytes", "1MiB", "--max-ratio", "100000")
    assert report["documents"] == 1
    reason = f"line too large (100,663,308 bytes > the 1,048,576-byte cap){HINT}"
    assert report["skipped"] == [{"path": f"{name}:1", "reason": reason}]
    assert report["limits"] == {"max_document_bytes": MiB, "max_ratio": 100000}
    assert result["peak"] < baseline + MARGIN


def test_a_stream_inflating_past_the_ratio_is_a_bomb(tmp_path: Path, baseline: int) -> None:
    """The records before the bomb are read; the stream stops at the cap."""
    data = gzip_of([(b'{"text": "ok"}\n', 3), (b" " * MiB, 256)])
    name = put(tmp_path, "bomb.jsonl.gz", data)
    result, report = scan(tmp_path, "data", "--max-document-bytes", "1MiB", "--max-ratio", "10")
    assert report["documents"] == 3
    [skipped] = report["skipped"]
    assert skipped["path"] == name
    budget = max(MiB, 10 * len(data))
    assert skipped["reason"] == (
        f"gzip stream inflates past {budget:,} bytes from {len(data):,} (over 10x): a "
        "decompression bomb? Not read further; raise the cap with --max-ratio or [scan] "
        "max_ratio to read it; read stopped after line 3"
    )
    assert result["peak"] < baseline + MARGIN


@pytest.mark.parametrize("cap", [None, "2GiB"])
def test_a_binary_file_is_left_after_its_first_bytes(
    tmp_path: Path, baseline: int, cap: str | None
) -> None:
    """Sniffed from a prefix, whatever the cap (before: read whole, 2 GiB -> 2.2 GB of RSS)."""
    (tmp_path / "data").mkdir()
    with open(tmp_path / "data" / "blob.bin", "wb") as fh:
        fh.truncate(1 << 30)  # a sparse GiB of zeros: cheap to make, dear to read
    result, report = scan(tmp_path, "data", *(["--max-document-bytes", cap] if cap else []))
    assert report["skipped"] == [{"path": "data/blob.bin", "reason": "binary file"}]
    assert result["peak"] < baseline + MARGIN


def test_a_document_over_the_cap_is_skipped_not_matched(tmp_path: Path, baseline: int) -> None:
    """Before: a 200 MB single-line document peaked at 3.7 GB in the matcher."""
    words = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    put(tmp_path, "big.txt", words * (40 * MiB // len(words)))
    size = (tmp_path / "data" / "big.txt").stat().st_size
    put(tmp_path, "big.md.gz", gzip.compress(words * (8 * MiB // len(words))))
    put(tmp_path, "small.txt", words)
    result, report = scan(tmp_path, "data", "--max-document-bytes", "4MiB")
    assert report["documents"] == 1
    cap = "the 4,194,304-byte cap"
    assert report["skipped"] == [
        {"path": "data/big.md.gz", "reason": f"file decompressed (.gz) over {cap}{HINT}"},
        {"path": "data/big.txt", "reason": f"file too large ({size:,} bytes > {cap}){HINT}"},
    ]
    assert result["peak"] < baseline + MARGIN
