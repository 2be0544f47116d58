"""Policy: where outside-model output may not go, checked in git ranges and at dataset admission.

``Policy`` compiles the ``[[rules]]`` of a configuration; ``check`` finds the violations in
commit attributions (``check --range``/``--staged``); ``dataset`` applies the dataset rules to
scan findings (``scan --policy PURPOSE``); ``report`` renders violations as text, JSON or SARIF.
"""

from distillguard.policy.check import Violation, check_attribution
from distillguard.policy.dataset import DatasetViolation, dataset_violations
from distillguard.policy.rules import Policy, policy_at

__all__ = [
    "DatasetViolation",
    "Policy",
    "Violation",
    "check_attribution",
    "dataset_violations",
    "policy_at",
]
