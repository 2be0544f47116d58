"""Document-level scores: precision, recall, per-edit recall, per-negative false-positive rate."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from corpus.model import Document
from systems import Corpus, RunResult


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _rate_by(docs: list[Document], flagged: set[str], key) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        groups[key(doc)].append(doc)
    return {
        name: {
            "n": len(group),
            "flagged": sum(d.relpath in flagged for d in group),
            "rate": _ratio(sum(d.relpath in flagged for d in group), len(group)),
        }
        for name, group in sorted(groups.items())
    }


def score(corpus: Corpus, result: RunResult) -> dict[str, Any]:
    if result.skipped:
        return {"system": result.name, "skipped": result.skipped}
    docs = [d for d in corpus.docs if result.evaluated is None or d.relpath in result.evaluated]
    pos = [d for d in docs if d.label]
    neg = [d for d in docs if not d.label]
    flagged = result.flagged
    tp = sum(d.relpath in flagged for d in pos)
    fp = sum(d.relpath in flagged for d in neg)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, len(pos))
    f1 = None
    if precision and recall:
        f1 = round(2 * precision * recall / (precision + recall), 4)
    out: dict[str, Any] = {
        "system": result.name,
        "documents": len(docs),
        "positives": len(pos),
        "negatives": len(neg),
        "tp": tp,
        "fp": fp,
        "fn": len(pos) - tp,
        "tn": len(neg) - fp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positive_rate": _ratio(fp, len(neg)),
        "recall_by_edit": _rate_by(pos, flagged, lambda d: d.category),
        "recall_by_kind_edit": _rate_by(pos, flagged, lambda d: f"{d.kind}:{d.category}"),
        "fpr_by_negative": _rate_by(neg, flagged, lambda d: d.category),
        "fpr_by_kind_negative": _rate_by(neg, flagged, lambda d: f"{d.kind}:{d.category}"),
        "scan_seconds": round(result.scan_seconds, 2),
        "scan_mb": round(result.scan_bytes / 1e6, 2),
        "throughput_mb_s": _ratio(result.scan_bytes, int(result.scan_seconds * 1e6)),
        "index_seconds": round(result.index_seconds, 2),
        "params": result.params,
        "notes": result.notes,
    }
    if result.matches:
        out["spans"] = span_accuracy(corpus, result, pos)
    return out


def span_accuracy(corpus: Corpus, result: RunResult, pos: list[Document]) -> dict[str, Any]:
    """For flagged positives: share of matched characters inside the inserted region, share of
    the region covered by spans, and whether the inserted output is among the matches."""
    matched = inside = region_chars = covered = attributed = n = 0
    ids = result.extra.get("output_ids")
    for doc in pos:
        matches = result.matches.get(doc.relpath)
        if not matches or doc.region is None:
            continue
        n += 1
        chars = _union([tuple(s) for m in matches for s in m.get("spans", [])])
        start, end = doc.region
        matched += sum(b - a for a, b in chars)
        hit = sum(max(0, min(b, end) - max(a, start)) for a, b in chars)
        inside += hit
        region_chars += end - start
        covered += hit
        if ids is not None and doc.output_idx is not None:
            attributed += any(m.get("output_id") == ids[doc.output_idx] for m in matches)
    return {
        "flagged_positives": n,
        "matched_chars_inside_region": _ratio(inside, matched),
        "region_chars_covered": _ratio(covered, region_chars),
        "inserted_output_among_matches": _ratio(attributed, n) if ids is not None else None,
    }


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def errors(corpus: Corpus, result: RunResult, limit: int = 30) -> dict[str, list[dict]]:
    """A few missed positives and falsely flagged negatives, to steer tuning."""
    docs = [d for d in corpus.docs if result.evaluated is None or d.relpath in result.evaluated]
    missed = [d for d in docs if d.label and d.relpath not in result.flagged]
    false = [d for d in docs if not d.label and d.relpath in result.flagged]
    ids = result.extra.get("output_ids") or []
    by_id = {oid: idx for idx, oid in enumerate(ids)}

    def describe(d: Document) -> dict[str, Any]:
        info = {
            "doc": d.relpath,
            "kind": d.kind,
            "category": d.category,
            "host": d.host,
            "note": d.note,
        }
        if d.output_idx is not None:
            out = corpus.outputs[d.output_idx]
            info["output"] = {
                "idx": out.idx,
                "source": f"{out.package}:{out.name}",
                "lines": out.text.count("\n") + 1,
            }
        if d.relpath in result.matches:
            info["matches"] = [
                _describe_match(m, by_id, corpus) for m in result.matches[d.relpath][:3]
            ]
        if d.inserted_units:
            info["inserted"] = d.inserted_units
        return info

    return {
        "missed_total": len(missed),
        "false_positive_total": len(false),
        "missed": [describe(d) for d in _spread(missed, limit)],
        "false_positives": [describe(d) for d in _spread(false, limit)],
    }


def _describe_match(m: dict[str, Any], by_id: dict[str, int], corpus: Corpus) -> dict[str, Any]:
    info = {k: m.get(k) for k in ("output_id", "containment")}
    idx = by_id.get(m.get("output_id", ""))
    if idx is not None:
        out = corpus.outputs[idx]
        info["output"] = {
            "idx": idx,
            "role": out.role,
            "kind": out.kind,
            "source": f"{out.package}:{out.name}",
            "license_header_lines": out.license_header.count("\n"),
            "body_lines": out.body.count("\n") + 1,
        }
    return info


def _spread(docs: list[Document], limit: int) -> list[Document]:
    """Up to ``limit`` documents, round-robin over categories."""
    by_cat: dict[str, list[Document]] = defaultdict(list)
    for d in docs:
        by_cat[f"{d.kind}:{d.category}"].append(d)
    picked: list[Document] = []
    while len(picked) < limit and any(by_cat.values()):
        for key in sorted(by_cat):
            if by_cat[key] and len(picked) < limit:
                picked.append(by_cat[key].pop(0))
    return picked
