"""The policy a check applies: compiled rules plus the vendor classes they are read with.

Rules are read from the *base* of a change (``git show BASE:distillguard.toml``) so a change
cannot loosen its own check; an explicitly given configuration (``--config`` or
``DISTILLGUARD_CONFIG``, e.g. a company-wide policy) is used as it is.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pathspec

from distillguard.capture.git.repo import Git
from distillguard.config import CONFIG_NAME, Rule, Settings, load_settings


@dataclass(frozen=True)
class Policy:
    """Rules with their path patterns compiled, and the vendor classes to judge vendors by."""

    settings: Settings
    source: str  # where the rules came from, for reports

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.settings.rules

    def git_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.paths)

    def dataset_rules(self, purpose: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if purpose in r.datasets)

    def covers(self, rule: Rule, path: str) -> bool:
        """Whether ``path`` (relative to the repository root) falls under the rule's globs."""
        return _spec(rule.paths).match_file(path)

    def denies(self, rule: Rule, vendor: str) -> bool:
        if isinstance(rule.deny, str):
            return self.settings.vendor_class(vendor) == rule.deny
        return vendor in rule.deny


def _spec(paths: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(paths)


def policy_at(git: Git, rev: str | None, settings: Settings, explicit: bool) -> Policy:
    """The policy to check a change with: the config at ``rev`` unless one was given explicitly.

    ``rev`` None means the working tree's own (a repository without commits). A revision without
    a ``distillguard.toml`` has no rules, and every vendor external.
    """
    if explicit or rev is None:
        where = str(settings.config_path) if settings.config_path else "no config file"
        return Policy(settings, where)
    data = git.show(rev, CONFIG_NAME)
    if data is None:
        empty = dataclasses.replace(settings, rules=(), vendor_classes={}, config_path=None)
        return Policy(empty, f"{rev[:12]}: no {CONFIG_NAME}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / CONFIG_NAME
        path.write_bytes(data)
        at_rev = load_settings(path)
    base = dataclasses.replace(
        settings,
        rules=at_rev.rules,
        vendor_classes=at_rev.vendor_classes,
        config_path=None,
    )
    return Policy(base, f"{CONFIG_NAME} at {rev[:12]}")
