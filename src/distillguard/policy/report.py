"""Violations as text (one line each), JSON, or SARIF 2.1.0 (for code-scanning uploads)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import quote

from distillguard import __version__
from distillguard.config import Rule
from distillguard.policy.check import Violation

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/distillguard/distillguard"
FORMATS = ("text", "json", "sarif")


def render(
    fmt: str, violations: Sequence[Violation], rules: Sequence[Rule], summary: dict[str, Any]
) -> str:
    if fmt == "json":
        return as_json(violations, summary)
    if fmt == "sarif":
        return json.dumps(as_sarif(violations, rules), indent=1)
    return as_text(violations, summary)


def as_text(violations: Sequence[Violation], summary: dict[str, Any]) -> str:
    lines = [
        f"{v.path}:{v.start_line}-{v.end_line}: [{v.rule_id}] {v.vendor}/{v.model} "
        f"in commit {v.commit[:12]}: {v.message}"
        for v in violations
    ]
    verdict = f"{len(violations)} violation(s)" if violations else "no violations"
    lines.append(
        f"{verdict}: {summary.get('commits', 0)} commit(s) checked against "
        f"{summary.get('rules', 0)} rule(s) from {summary.get('policy', '?')}"
    )
    return "\n".join(lines)


def as_json(violations: Sequence[Violation], summary: dict[str, Any]) -> str:
    return json.dumps({**summary, "violations": [asdict(v) for v in violations]}, indent=1)


def as_sarif(violations: Sequence[Violation], rules: Sequence[Rule]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run; every rule is described, every violation a result."""
    ids = [r.id for r in rules]
    for v in violations:
        if v.rule_id not in ids:
            ids.append(v.rule_id)
    described = {r.id: r for r in rules}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "distillguard",
                        "version": __version__,
                        "informationUri": INFO_URI,
                        "rules": [_rule(i, described.get(i)) for i in ids],
                    }
                },
                "results": [_result(v, ids.index(v.rule_id)) for v in violations],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def _rule(rule_id: str, rule: Rule | None) -> dict[str, Any]:
    text = (rule.description if rule else "") or _describe(rule)
    return {
        "id": rule_id,
        "shortDescription": {"text": text},
        "defaultConfiguration": {"level": "error"},
    }


def _describe(rule: Rule | None) -> str:
    if rule is None:
        return "distillguard policy rule"
    deny = rule.deny if isinstance(rule.deny, str) else ", ".join(rule.deny)
    where = ", ".join(rule.paths) or "datasets: " + ", ".join(rule.datasets)
    need = " without review" if rule.require else ""
    return f"No output of {deny} vendors in {where}{need}"


def _result(v: Violation, rule_index: int) -> dict[str, Any]:
    return {
        "ruleId": v.rule_id,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": f"{v.vendor}/{v.model}: {v.message} (commit {v.commit[:12]})"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": quote(v.path), "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": v.start_line, "endLine": v.end_line},
                }
            }
        ],
        "partialFingerprints": {"distillguard/v1": f"{v.rule_id}:{v.output_id}:{v.path}"},
        "properties": {
            "vendor": v.vendor,
            "model": v.model,
            "output_id": v.output_id,
            "commit": v.commit,
        },
    }
