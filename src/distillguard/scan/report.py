"""``report.json`` (the contract other tools read) and the short terminal summary.

Every string of the report is valid UTF-8: a file name that is not (POSIX names are bytes) is
written as :mod:`~distillguard.scan.names` says, ``\\xNN`` for each such byte and the exact bytes
beside it (``doc_bytes``, ``path_bytes``, base64).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from distillguard.model import Finding, Match
from distillguard.scan.engine import Tally
from distillguard.scan.names import portable
from distillguard.scan.outdir import REPORT


def finding_json(finding: Finding) -> dict[str, Any]:
    return {"doc": finding.doc, "matches": [match_json(m) for m in finding.matches]}


def match_json(m: Match) -> dict[str, Any]:
    """One match; ``field`` only when the document was gathered from a record's strings,
    ``parts`` only when parts of a many-part output were found on their own."""
    out: dict[str, Any] = {
        "output_id": m.output_id,
        "vendor": m.vendor,
        "model": m.model,
        "containment": m.containment,
        "spans": [list(span) for span in m.spans],
        "fingerprints": m.matched,
    }
    if m.field is not None:
        out["field"] = m.field
    if m.parts:
        out["parts"] = [
            {"part": p.index, "kind": p.kind, "lines": list(p.lines), "containment": p.containment}
            for p in m.parts
        ]
    return out


def report_json(tally: Tally, seconds: float, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "documents": tally.documents,
        "flagged": tally.flagged,
        "bytes": tally.bytes,
        "seconds": round(seconds, 3),
        "findings": [finding_json(f) for f in tally.findings],
        "skipped": [{"path": s.path, "reason": s.reason} for s in tally.skipped],
        "skipped_total": tally.skipped_count,
        **extra,
    }


def write_report(out_dir: Path, report: dict[str, Any]) -> Path:
    path = out_dir / REPORT
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(report_bytes(report))
    tmp.replace(path)
    return path


def report_bytes(report: dict[str, Any]) -> bytes:
    """The report as indented UTF-8 JSON. orjson: the report of a large scan (every span of
    every finding) is written in a tenth of the time the standard encoder takes."""
    try:
        return orjson.dumps(report, option=orjson.OPT_INDENT_2)
    except TypeError:  # orjson refuses lone surrogates: a name that is not UTF-8 (rare)
        return orjson.dumps(portable(report), option=orjson.OPT_INDENT_2)
