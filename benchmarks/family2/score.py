"""Score a run per document: a positive is found only when a reported match names an output it
holds; a negative is a false positive when it is flagged at all.

precision = found / (found + flagged negatives); recall = found / positives. A positive flagged
only for outputs it does not hold is ``misattributed`` and counts in neither precision's
numerator nor its denominator (it is listed with the false negatives).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _by(rows: list[dict], key, flag: str) -> dict[str, dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return {
        k: {
            "n": len(g),
            flag: sum(r[flag] for r in g),
            "rate": _ratio(sum(r[flag] for r in g), len(g)),
        }
        for k, g in sorted(groups.items())
    }


def score(docs: list[dict], answers: list[dict], reports: dict, output_ids: dict) -> dict[str, Any]:
    sid_of_answer = {a["idx"]: a["source_id"] for a in answers}
    kind_of = {a["idx"]: a["kind"] for a in answers}
    findings: dict[str, list[dict]] = {}
    for report in reports.values():
        for f in report.get("findings", []):
            findings.setdefault(str(f["doc"]), []).extend(f.get("matches", []))
    names = {d["name"] for d in docs}
    rows = []
    for d in docs:
        matches = findings.get(d["name"], [])
        named = {output_ids.get(m.get("output_id"), "?") for m in matches}
        held = {sid_of_answer[i] for i in d["holds"]}
        rows.append(
            {
                **d,
                "flagged": bool(matches),
                "found": bool(named & held) if d["label"] else False,
                "matches": [
                    {
                        "output": output_ids.get(m.get("output_id"), m.get("output_id")),
                        "containment": m.get("containment"),
                        "field": m.get("field"),
                        "fingerprints": m.get("fingerprints"),
                        "spans": len(m.get("spans", [])),
                    }
                    for m in matches
                ],
            }
        )
    pos = [r for r in rows if r["label"]]
    neg = [r for r in rows if not r["label"]]
    found = sum(r["found"] for r in pos)
    fp = sum(r["flagged"] for r in neg)
    misattributed = sum(r["flagged"] and not r["found"] for r in pos)
    precision, recall = _ratio(found, found + fp), _ratio(found, len(pos))
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else None
    figures = {
        "documents": len(rows),
        "positives": len(pos),
        "negatives": len(neg),
        "found": found,
        "misattributed": misattributed,
        "false_negatives": len(pos) - found,
        "false_positives": fp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positive_rate": _ratio(fp, len(neg)),
        "recall_by_edit": _by(pos, lambda r: r["edit"], "found"),
        "recall_by_part": _by(pos, lambda r: r["part"], "found"),
        "recall_by_part_edit": _by(pos, lambda r: f"{r['part']}:{r['edit']}", "found"),
        # the same edits, on parts that are at least a quarter of their answer's text
        "recall_by_edit_parts_ge_quarter": _by(
            [r for r in pos if r["part"] != "whole" and (r["share"] or 0) >= 0.25],
            lambda r: r["edit"],
            "found",
        ),
        "recall_by_shape": _by(pos, lambda r: r["shape"], "found"),
        "recall_by_language": _by(pos, lambda r: r["lang"], "found"),
        "recall_by_answer_kind": _by(pos, lambda r: kind_of[r["answer"]], "found"),
        "recall_by_share_of_answer": _by(pos, lambda r: _bucket(r["share"]), "found"),
        "recall_by_part_shared_with_other_answers": _by(
            pos, lambda r: "shared" if len(r["holds"]) > 1 else "unique", "found"
        ),
        "fp_by_negative": _by(neg, lambda r: r["edit"], "flagged"),
        "fp_by_shape": _by(neg, lambda r: r["shape"], "flagged"),
        "fp_by_shape_negative": _by(neg, lambda r: f"{r['shape']}:{r['edit']}", "flagged"),
        "fp_by_language": _by(neg, lambda r: r["lang"], "flagged"),
        "precision_by_shape": {
            shape: _ratio(
                sum(r["found"] for r in pos if r["shape"] == shape),
                sum(r["found"] for r in pos if r["shape"] == shape)
                + sum(r["flagged"] for r in neg if r["shape"] == shape),
            )
            for shape in sorted({r["shape"] for r in rows})
        },
    }
    details = {
        "false_negatives": [_describe(r, sid_of_answer) for r in pos if not r["found"]],
        "false_positives": [_describe(r, sid_of_answer) for r in neg if r["flagged"]],
        "findings_naming_no_document": sorted(set(findings) - names),
    }
    return {"figures": figures, "details": details}


def _bucket(share: float | None) -> str:
    """The part's share of its answer's text, in four bins."""
    if share is None:
        return "?"
    for limit, name in ((0.1, "a: < 0.10"), (0.25, "b: 0.10-0.25"), (0.5, "c: 0.25-0.50")):
        if share < limit:
            return name
    return "d: >= 0.50"


def _describe(r: dict, sid_of_answer: dict) -> dict:
    keys = ("name", "shape", "part", "edit", "lang", "note", "share", "matches")
    out = {k: r[k] for k in keys}
    if r["label"]:
        out["answer"] = sid_of_answer.get(r["answer"])
        out["holds"] = [sid_of_answer[i] for i in r["holds"]]
    return out
