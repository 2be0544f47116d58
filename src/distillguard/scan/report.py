"""``report.json`` (the contract other tools read) and the short terminal summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distillguard.model import Finding
from distillguard.scan.engine import Tally
from distillguard.scan.outputs import REPORT


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "doc": finding.doc,
        "matches": [
            {
                "output_id": m.output_id,
                "vendor": m.vendor,
                "model": m.model,
                "containment": m.containment,
                "spans": [list(span) for span in m.spans],
                "fingerprints": m.matched,
            }
            for m in finding.matches
        ],
    }


def report_json(tally: Tally, seconds: float, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "documents": tally.documents,
        "flagged": tally.flagged,
        "bytes": tally.bytes,
        "seconds": round(seconds, 3),
        "findings": [finding_json(f) for f in tally.findings],
        "skipped": [{"path": s.path, "reason": s.reason} for s in tally.skipped],
        **extra,
    }


def write_report(out_dir: Path, report: dict[str, Any]) -> Path:
    path = out_dir / REPORT
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1), encoding="ascii")
    tmp.replace(path)
    return path
