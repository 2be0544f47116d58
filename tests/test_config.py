"""The config file: ``config validate`` turns every way a file can be broken into a clear error
(exit 2), never a traceback; and the ``[scan]`` limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.config import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_RATIO,
    ScanLimits,
    load_settings,
    parse_size,
)
from distillguard.errors import ConfigError


def said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[vendors.x]\nclass = "caf\xe9"\n', "bad.toml: invalid TOML: not UTF-8 (byte 24)"),
        (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "bad.toml: invalid TOML: nested too deeply"),
        (b"a = " + b"{b = " * 3000 + b"1" + b"}" * 3000 + b"\n", "invalid TOML: nested too deeply"),
        (b"[scan\n", "bad.toml: invalid TOML: "),
    ],
)
def test_a_file_that_is_no_toml_is_a_clear_error(
    run, tmp_path: Path, content: bytes, message: str
) -> None:  # type: ignore[no-untyped-def]
    """Before: invalid UTF-8 and deep nesting ended in a traceback with exit 1."""
    (tmp_path / "bad.toml").write_bytes(content)
    result = run("--config", "bad.toml", "config", "validate")
    assert result.exit_code == 2
    assert said(result).startswith("error: ") and message in said(result)
    assert "Traceback" not in result.output


def test_scan_limits_and_their_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ok.toml").write_text('[scan]\nmax_document_bytes = "16 MiB"\nmax_ratio = 50\n')
    assert load_settings(tmp_path / "ok.toml", {}).scan_limits == ScanLimits(16 << 20, 50)
    assert load_settings(None, {"DISTILLGUARD_HOME": str(tmp_path)}).scan_limits == ScanLimits(
        DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_MAX_RATIO
    )
    (tmp_path / "bad.toml").write_text(
        '[scan]\nmax_document_bytes = "huge"\nmax_ratio = 0\nmax_ratoi = 3\n'
    )
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "bad.toml", {})
    assert str(info.value).splitlines() == [
        "scan.max_ratoi: unknown key (did you mean 'max_ratio'?)",
        "scan.max_document_bytes = 'huge' is not a size (bytes, or a number with B, KB, MiB, "
        "GiB...)",
        "scan.max_ratio = 0: must be a whole number, 1 or more",
    ]
    result = run("--config", "bad.toml", "config", "validate")
    assert result.exit_code == 2 and "did you mean 'max_ratio'?" in said(result)


@pytest.mark.parametrize(
    ("value", "size"),
    [(5, 5), ("5", 5), ("64MiB", 64 << 20), ("2 GiB", 2 << 30), ("1kb", 1000), ("3 B", 3)],
)
def test_sizes(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "", "x", "5 parsecs", "-3MiB", "0 GiB"])
def test_not_sizes(value: object) -> None:
    with pytest.raises(ValueError):
        parse_size(value)
