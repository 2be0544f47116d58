"""The ``[[rules]]`` contract, extended: require, datasets, description; every error explained."""

from __future__ import annotations

import pytest

from distillguard.config import Rule, rules_from
from distillguard.errors import ConfigError


def test_rules_parse_with_defaults() -> None:
    rules = rules_from(
        {
            "rules": [
                {"id": "tests", "paths": ["tests/**"]},
                {"id": "r", "paths": ["src/**"], "deny": ["openai"], "require": "review"},
                {"id": "d", "datasets": ["training"], "description": "no rival output"},
            ]
        }
    )
    assert rules == (
        Rule("tests", ("tests/**",), "external"),
        Rule("r", ("src/**",), ("openai",), require=("review",)),
        Rule("d", (), "external", datasets=("training",), description="no rival output"),
    )


def test_every_error_is_explained_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        rules_from(
            {
                "rules": [
                    {"id": "a", "paths": "tests/**", "deny": "anthropic", "path": ["x"]},
                    {"id": "b"},
                    {"id": "c", "paths": ["x"], "require": "sign-off", "datasets": ["trainig"]},
                    {"paths": ["y"]},
                    {"id": "e", "paths": ["z"]},
                    {"id": "e", "paths": ["w"]},
                ]
            }
        )
    message = str(info.value)
    for part in (
        "[[rules]] #1 (a) path: unknown key (did you mean paths?)",
        "[[rules]] #1 (a) paths: must be a list of gitignore-style globs",
        "[[rules]] #1 (a) deny: 'anthropic': a class must be one of external, internal",
        'deny = ["anthropic"]',
        "[[rules]] #2 (b): needs paths (where in git) or datasets",
        "[[rules]] #3 (c) require: 'sign-off'",
        "[[rules]] #3 (c) datasets: ['trainig']",
        "[[rules]] #4 id: missing: a rule needs an id",
        "[[rules]] id: 'e' is used twice",
    ):
        assert part in message, part
