"""The output directory of a scan: ``clean/``, ``quarantine/`` and ``report.json``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from distillguard.errors import InputError
from distillguard.scan.formats import CLEAN, QUARANTINE, os_reason

REPORT = "report.json"
SCAN_ENTRIES = frozenset({CLEAN, QUARANTINE, REPORT})


def prepare_out_dir(out_dir: Path) -> None:
    """Create ``DIR/clean`` and ``DIR/quarantine``, removing a previous scan's outputs.

    A non-empty DIR holding anything but ``clean/``, ``quarantine/`` and ``report.json`` is
    refused with ``InputError``: it is not a scan output, and nothing of it is touched. The old
    ``report.json`` goes too, so a failed run never leaves a stale report beside new outputs.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output {out_dir} exists and is not a directory")
    try:
        if out_dir.is_dir():
            _clear_previous(out_dir)
        for side in (CLEAN, QUARANTINE):
            (out_dir / side).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot prepare output {out_dir}: {os_reason(exc)}") from exc


def _clear_previous(out_dir: Path) -> None:
    names = sorted(os.listdir(out_dir))
    foreign = [name for name in names if name not in SCAN_ENTRIES]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise InputError(
            f"refusing to write into {out_dir}: it is not empty and does not look like a "
            f"previous scan output (it holds {shown})"
        )
    for name in names:
        path = out_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
