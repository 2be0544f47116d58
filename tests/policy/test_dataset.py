"""``scan --policy PURPOSE``: the dataset rules at dataset admission."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from distillguard.cli import main
from distillguard.ledger import Ledger
from distillguard.model import NewOutput
from tests.samples import HOST, JS_OUTPUT, JS_RENAMED, PY_OUTPUT, PY_RENAMED, embed

CONFIG = """
[vendors.metacode]
class = "internal"

[[rules]]
id = "no-outside-output-in-training"
datasets = ["training", "fine-tuning"]
deny = "external"

[[rules]]
id = "no-metacode-in-evals"
datasets = ["evaluation"]
deny = ["metacode"]
"""


@pytest.fixture
def dataset(tmp_path: Path, ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISTILLGUARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DISTILLGUARD_DB", ledger_url)
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)
    (tmp_path / "distillguard.toml").write_text(CONFIG)
    with Ledger(ledger_url) as ledger:
        ledger.record(NewOutput(vendor="anthropic", model="claude-x", text=PY_OUTPUT))
        ledger.record(NewOutput(vendor="metacode", model="mc-1", text=JS_OUTPUT))
    data = tmp_path / "data"
    data.mkdir()
    (data / "clean.py").write_text(HOST)
    (data / "from_claude.py").write_text(embed(PY_RENAMED)[0])
    (data / "from_metacode.js").write_text(JS_RENAMED)
    return data


def scan(purpose: str, out: Path) -> Result:
    args = ["scan", "data", "--out", str(out), "--workers", "1", "--policy", purpose]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_training_data_with_external_output_is_a_violation(dataset: Path, tmp_path: Path) -> None:
    result = scan("training", tmp_path / "out")
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())  # the terminal wraps long lines
    assert (
        "violation data/from_claude.py: [no-outside-output-in-training] anthropic/claude-x" in said
    )
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    policy = report["policy"]
    assert policy["purpose"] == "training"
    (v,) = policy["violations"]
    assert v["doc"] == "data/from_claude.py" and v["vendor"] == "anthropic" and v["spans"]
    assert "metacode" not in report["vendors"]  # internal, and no training rule names it


def test_internal_vendors_named_by_a_rule_are_hunted(dataset: Path, tmp_path: Path) -> None:
    result = scan("evaluation", tmp_path / "out")
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (v,) = report["policy"]["violations"]
    assert (v["doc"], v["vendor"], v["rule_id"]) == (
        "data/from_metacode.js",
        "metacode",
        "no-metacode-in-evals",
    )
    assert "metacode" in report["vendors"]


def test_a_purpose_without_rules_and_a_bad_one_are_usage_errors(
    dataset: Path, tmp_path: Path
) -> None:
    # A policy gate with no rule for its purpose would pass anything: refused before reading.
    result = scan("code-analysis", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "no [[rules]] entry lists 'code-analysis'" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()
    bad = scan("trainnig", tmp_path / "out2")
    assert bad.exit_code == 2 and "a dataset purpose is one of" in bad.output
