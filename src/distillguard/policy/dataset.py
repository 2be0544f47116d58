"""Dataset admission: the rules whose ``datasets`` name a purpose, applied to scan findings.

A document of a dataset meant for ``purpose`` (training, evaluation, test-tasks, code-analysis,
fine-tuning) breaks a rule when it contains an output of a vendor the rule denies. ``require``
does not apply here: a dataset is not reviewed line by line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from distillguard.config import DATASET_PURPOSES, Settings
from distillguard.errors import ConfigError
from distillguard.model import Finding
from distillguard.policy.rules import Policy


@dataclass(frozen=True)
class DatasetViolation:
    rule_id: str
    doc: str
    vendor: str
    model: str
    output_id: str
    containment: float
    spans: tuple[tuple[int, int], ...]
    field: str | None = None


def check_purpose(purpose: str) -> str:
    if purpose not in DATASET_PURPOSES:
        raise ConfigError(
            f"--policy {purpose!r}: a dataset purpose is one of {', '.join(DATASET_PURPOSES)}"
        )
    return purpose


def hunted(policy: Policy, purpose: str, vendors: Iterable[str]) -> frozenset[str]:
    """The vendors the dataset rules for ``purpose`` deny (a scan must look for them)."""
    rules = policy.dataset_rules(purpose)
    return frozenset(v for v in vendors if any(policy.denies(r, v) for r in rules))


def dataset_violations(
    findings: Iterable[Finding], policy: Policy, purpose: str
) -> list[DatasetViolation]:
    rules = policy.dataset_rules(purpose)
    return [
        DatasetViolation(
            rule.id, f.doc, m.vendor, m.model, m.output_id, m.containment, m.spans, m.field
        )
        for f in findings
        for m in f.matches
        for rule in rules
        if policy.denies(rule, m.vendor)
    ]


@dataclass(frozen=True)
class Admission:
    """The dataset rules for one purpose, as ``scan --policy PURPOSE`` applies them."""

    policy: Policy
    purpose: str

    @classmethod
    def of(cls, settings: Settings, purpose: str) -> Admission:
        """The rules for ``purpose``; ``ConfigError`` when no rule names it: a policy gate
        without a rule would pass everything."""
        where = str(settings.config_path or "no config file")
        admission = cls(Policy(settings, where), check_purpose(purpose))
        if not admission.policy.dataset_rules(purpose):
            raise ConfigError(
                f"--policy {purpose}: no [[rules]] entry lists {purpose!r} in its datasets "
                f'({where}); add one, e.g. datasets = ["{purpose}"]'
            )
        return admission

    def hunts(self, vendor: str) -> bool:
        return vendor in hunted(self.policy, self.purpose, [vendor])

    def violations(self, findings: Iterable[Finding]) -> list[DatasetViolation]:
        return dataset_violations(findings, self.policy, self.purpose)

    def as_json(self, violations: list[DatasetViolation]) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "rules": [r.id for r in self.policy.dataset_rules(self.purpose)],
            "violations": [{**asdict(v), "spans": [list(s) for s in v.spans]} for v in violations],
        }

    def describe(self, v: DatasetViolation) -> str:
        who = f"{v.vendor}/{v.model} ({v.output_id})"
        where = f"{v.doc} [{v.field}]" if v.field else v.doc
        return f"{where}: [{v.rule_id}] {who} is not allowed in {self.purpose} data"
