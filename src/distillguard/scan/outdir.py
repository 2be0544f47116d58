"""The output directory of a scan: ``clean/``, ``quarantine/``, ``report.json`` and a marker.

The marker (``MARKER``) says that distillguard wrote the directory: it is written first, before
any output, so that a later scan may replace what an earlier one (even one that failed) left.
A directory without it is the user's own, and nothing of it is replaced or removed unless the
scan is told to (``overwrite``); a directory holding anything but a scan's entries is never
touched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from distillguard import __version__
from distillguard.errors import InputError
from distillguard.scan.formats import CLEAN, QUARANTINE, os_reason

REPORT = "report.json"
MARKER = ".distillguard-scan"
SHARDS = ".distillguard-shards"  # completion markers of a sharded scan (``shards``)
SCAN_ENTRIES = frozenset({CLEAN, QUARANTINE, REPORT, MARKER, SHARDS})


def prepare_out_dir(out_dir: Path, *, overwrite: bool = False) -> None:
    """Create ``DIR/clean`` and ``DIR/quarantine`` (and the marker), removing a previous scan's
    outputs.

    Refused with ``InputError``, nothing touched: a DIR that is not a directory; a non-empty
    DIR holding anything but a scan's entries; one holding only those but no marker (not
    written by distillguard: a user's own ``clean/``), unless ``overwrite``. The old
    ``report.json`` goes too, so a failed run never leaves a stale report beside new outputs.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output {out_dir} exists and is not a directory")
    try:
        if out_dir.is_dir():
            _clear_previous(out_dir, overwrite=overwrite)
        out_dir.mkdir(parents=True, exist_ok=True)
        _mark(out_dir)
        for side in (CLEAN, QUARANTINE):
            (out_dir / side).mkdir(exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot prepare output {out_dir}: {os_reason(exc)}") from exc


def _mark(out_dir: Path) -> None:
    (out_dir / MARKER).write_text(
        f"Written by distillguard {__version__} scan: clean/, quarantine/ and report.json here\n"
        "are its outputs, and the next scan into this directory replaces them.\n",
        encoding="utf-8",
    )


def _clear_previous(out_dir: Path, *, overwrite: bool) -> None:
    names = sorted(os.listdir(out_dir))
    foreign = [name for name in names if name not in SCAN_ENTRIES]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise InputError(
            f"refusing to write into {out_dir}: it is not empty and does not look like a "
            f"previous scan output (it holds {shown})"
        )
    if names and MARKER not in names and not overwrite:
        raise InputError(
            f"refusing to replace {out_dir}: it holds {', '.join(names)} but distillguard did "
            f"not write it (no {MARKER} marker); pass --overwrite to replace them, or choose "
            "another --out"
        )
    for name in names:
        path = out_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
