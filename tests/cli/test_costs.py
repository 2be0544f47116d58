"""``usage`` (estimated totals marked), ``usage reconcile`` against the vendors' recorded usage
exports, and ``prices check``: the command line over a real ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from distillguard.cli import main
from distillguard.ledger import Ledger
from distillguard.model import NewOutput

EXPORTS = Path(__file__).parents[1] / "fakes" / "exports"
Run = Callable[..., Result]


@pytest.fixture
def cli(ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The command line on the ledger at ``ledger_url``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISTILLGUARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DISTILLGUARD_DB", ledger_url)
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


def _record(url: str, *outputs: dict[str, Any]) -> None:
    with Ledger(url) as ledger:
        ledger.record_many(
            NewOutput(text=f"answer {i}", **{"vendor": "anthropic", "upstream": "anthropic"} | o)
            for i, o in enumerate(outputs)
        )


def _at(day: int, hour: int = 12) -> datetime:
    """November ``day`` of 2026 at ``hour`` UTC; day 31 is December 1."""
    month, day = (11, day) if day <= 30 else (12, 1)
    return datetime(2026, month, day, hour, tzinfo=UTC)


SONNET = "claude-sonnet-4-6"
HAIKU = "claude-haiku-4-5-20251001"
ANTHROPIC_LEDGER = [
    {"model": SONNET, "created_at": _at(29, 9), "input_tokens": 4000, "cache_read_tokens": 30000,
     "cache_write_tokens": 3000, "output_tokens": 1500},
    {"model": SONNET, "created_at": _at(29, 15), "input_tokens": 3000, "output_tokens": 1000},
    {"model": SONNET, "created_at": _at(30), "input_tokens": 5000, "cache_read_tokens": 20000,
     "output_tokens": 1600},
    {"model": HAIKU, "created_at": _at(29), "input_tokens": 800, "output_tokens": 150},
    # outside the export's period, and another vendor's: neither counts
    {"model": SONNET, "created_at": _at(31, 10), "input_tokens": 99_999, "output_tokens": 9},
    {"vendor": "openai", "model": SONNET, "created_at": _at(30), "input_tokens": 5,
     "output_tokens": 5},
]  # fmt: skip


def _reconcile(cli: Run, name: str, vendor: str, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli("usage", "reconcile", str(EXPORTS / name), "--vendor", vendor, "--json", *extra)
    return result.exit_code, json.loads(result.output)


def _one_line(result: Result) -> str:
    return " ".join(result.output.split())


def _lines(report: dict[str, Any]) -> dict[tuple[str, str], tuple[float, float, bool]]:
    return {(x["model"], x["measure"]): (x["ours"], x["theirs"], x["within"])
            for x in report["lines"]}  # fmt: skip


def test_anthropic_usage_report_that_matches(cli: Run, ledger_url: str) -> None:
    _record(ledger_url, *ANTHROPIC_LEDGER)
    code, report = _reconcile(cli, "anthropic_usage_report.json", "anthropic")
    assert code == 0 and report["ok"]
    assert report["start"] == "2026-11-29T00:00:00+00:00"
    assert report["end"] == "2026-12-01T00:00:00+00:00"
    assert _lines(report) == {
        (SONNET, "input tokens"): (65000, 65000, True),
        (SONNET, "output tokens"): (4100, 4100, True),
        ("claude-haiku-4-5", "input tokens"): (800, 800, True),
        ("claude-haiku-4-5", "output tokens"): (150, 150, True),
    }
    text = cli("usage", "reconcile", str(EXPORTS / "anthropic_usage_report.json"),
               "--vendor", "anthropic")  # fmt: skip
    assert text.exit_code == 0 and "every figure is within 2.00%" in text.output


def test_a_model_missing_from_the_ledger_fails(cli: Run, ledger_url: str) -> None:
    _record(ledger_url, *(o for o in ANTHROPIC_LEDGER if o["model"] != HAIKU))
    code, report = _reconcile(cli, "anthropic_usage_report.json", "anthropic")
    assert code == 1 and not report["ok"]
    haiku = [x for x in report["lines"] if x["model"] == "claude-haiku-4-5"]
    assert [(x["ours"], x["theirs"], x["share"], x["within"]) for x in haiku] == [
        (0, 800, -1.0, False),
        (0, 150, -1.0, False),
    ]
    text = cli("usage", "reconcile", str(EXPORTS / "anthropic_usage_report.json"),
               "--vendor", "anthropic")  # fmt: skip
    assert text.exit_code == 1 and "BEYOND" in text.output and "-100.00%" in text.output


def test_the_tolerance_decides(cli: Run, ledger_url: str) -> None:
    extra = {"model": SONNET, "created_at": _at(30, 13), "output_tokens": 50}  # +1.2% output
    _record(ledger_url, *ANTHROPIC_LEDGER, extra)
    assert _reconcile(cli, "anthropic_usage_report.json", "anthropic")[0] == 0
    code, report = _reconcile(cli, "anthropic_usage_report.json", "anthropic", "--tolerance", "1")
    assert code == 1 and report["tolerance"] == 0.01
    assert _lines(report)[(SONNET, "output tokens")] == (4150, 4100, False)


def test_openai_usage_buckets_with_estimated_usage_marked(cli: Run, ledger_url: str) -> None:
    _record(
        ledger_url,
        {"vendor": "openai", "model": "gpt-5.4-2026-03-05", "created_at": _at(30, 1),
         "input_tokens": 11904, "cache_read_tokens": 4096, "output_tokens": 700},
        {"vendor": "openai", "model": "gpt-5.4", "created_at": _at(30, 2), "input_tokens": 4000,
         "output_tokens": 200, "usage_estimated": True},
        {"vendor": "openai", "model": "gpt-4o-mini-2024-07-18", "created_at": _at(30, 3),
         "input_tokens": 1000, "output_tokens": 400},
    )  # fmt: skip
    code, report = _reconcile(cli, "openai_usage_completions.json", "openai")
    assert code == 0, report
    assert _lines(report)[("gpt-5.4", "input tokens")] == (20000, 20000, True)
    estimated = {x["model"] for x in report["lines"] if x["estimated"]}
    assert estimated == {"gpt-5.4"}
    text = cli("usage", "reconcile", str(EXPORTS / "openai_usage_completions.json"),
               "--vendor", "openai")  # fmt: skip
    assert "~20,000" in text.output


def test_google_billing_export_holds_cost_per_model(cli: Run, ledger_url: str) -> None:
    _record(
        ledger_url,
        {"vendor": "google", "model": "gemini-2.5-pro", "created_at": _at(30, 6),
         "input_tokens": 20000, "output_tokens": 3000, "cost_usd": 0.055},
        {"vendor": "google", "model": "gemini-2.5-flash", "created_at": _at(30, 18),
         "input_tokens": 10000, "output_tokens": 1000, "cost_usd": 0.0055},
    )  # fmt: skip
    code, report = _reconcile(cli, "google_billing_export.csv", "google")
    assert code == 0, report
    assert {x["measure"] for x in report["lines"]} == {"cost (USD)"}  # a billing export: cost
    lines = _lines(report)
    ours, theirs, within = lines[("gemini-2.5-pro", "cost (USD)")]
    assert ours == pytest.approx(0.055) and (theirs, within) == (0.055, True)
    assert lines[("gemini-2.5-flash", "cost (USD)")][2]
    gemini = cli("usage", "reconcile", str(EXPORTS / "google_billing_export.csv"), "--vendor",
                 "google", "--recorded-as", "gemini", "--json")  # fmt: skip
    assert gemini.exit_code == 1  # nothing is recorded under "gemini"


def test_an_export_of_another_shape_is_a_usage_error(cli: Run, ledger_url: str) -> None:
    _record(ledger_url, *ANTHROPIC_LEDGER)
    wrong = cli("usage", "reconcile", str(EXPORTS / "anthropic_usage_report.json"),
                "--vendor", "openai")  # fmt: skip
    assert wrong.exit_code == 2
    assert "is not openai's usage export: no field 'start_time'" in _one_line(wrong)
    ungrouped = json.loads((EXPORTS / "openai_usage_completions.json").read_text())
    for result in ungrouped["data"][0]["results"]:
        result["model"] = None
    path = Path("ungrouped.json")
    path.write_text(json.dumps(ungrouped))
    result = cli("usage", "reconcile", str(path), "--vendor", "openai")
    assert result.exit_code == 2 and "grouped by model (group_by=model)" in _one_line(result)


def test_usage_marks_estimated_totals(cli: Run, ledger_url: str) -> None:
    _record(
        ledger_url,
        {"model": SONNET, "created_at": _at(30), "input_tokens": 100, "output_tokens": 10,
         "cost_usd": 0.00045},
        {"model": SONNET, "created_at": _at(30, 13), "input_tokens": 40, "output_tokens": 7,
         "cost_usd": 0.000225, "usage_estimated": True, "team": "web"},
    )  # fmt: skip
    result = cli("usage", "--by", "team", "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert (report["estimated_outputs"], report["estimated_tokens"]) == (1, 47)
    groups = {g["team"]: g for g in report["groups"]}
    assert groups["web"]["estimated_outputs"] == 1 and groups["(none)"]["estimated_outputs"] == 0
    text = cli("usage", "--by", "team")
    assert "~40" in text.output and "~7" in text.output and "estimated usage" in text.output
    assert "~100" not in text.output  # the exact group is not marked


def test_prices_check_lists_unpriced_models(cli: Run, ledger_url: str, tmp_path: Path) -> None:
    _record(
        ledger_url,
        {"model": "claude-opus-5-5", "created_at": _at(30), "output_tokens": 5},
        {"model": "claude-opus-5-5", "created_at": _at(30, 13)},
        {"model": SONNET, "created_at": _at(30), "output_tokens": 5},
        {"vendor": "openai", "model": "gpt-6.2-sol", "created_at": _at(30), "output_tokens": 5},
    )  # fmt: skip
    result = cli("prices", "check", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["price_table"] == "the packaged price table" and report["version"]
    assert report["unpriced"] == [
        {"vendor": "anthropic", "model": "claude-opus-5-5", "outputs": 2, "outputs_with_usage": 1},
        {"vendor": "openai", "model": "gpt-6.2-sol", "outputs": 1, "outputs_with_usage": 1},
    ]
    assert "2 model(s) have no price" in cli("prices", "check").output
    table = tmp_path / "prices.toml"
    table.write_text(
        'version = "ours-1"\n[anthropic."*"]\ninput = 5\noutput = 25\n'
        '[openai."gpt-6.2-sol"]\ninput = 5\noutput = 30\nsource = "our contract (2026-12-01)"\n'
    )
    config = tmp_path / "distillguard.toml"
    config.write_text(f'[gateway]\nprices = "{table}"\n')
    priced = cli("--config", str(config), "prices", "check")
    assert priced.exit_code == 0, priced.output
    assert "every model in the ledger has a price" in priced.output and "ours-1" in priced.output
