"""A ledger in privacy mode keeps working across an upgrade of the fingerprint settings."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from distillguard.cli import main
from distillguard.fingerprint import FingerprintConfig, settings_for
from distillguard.index.build import IndexBuilder
from distillguard.index.sets import privacy_form
from distillguard.index.store import Index
from distillguard.ledger import Ledger
from distillguard.model import NewOutput
from distillguard.scan.matcher import Matcher
from tests.samples import JS_OUTPUT, PY_OUTPUT, embed

OLD = FingerprintConfig(version=5)


def test_settings_follow_the_fingerprints_a_ledger_keeps() -> None:
    current = FingerprintConfig()
    assert settings_for(set()) == current
    assert settings_for({OLD.id}) == OLD
    assert settings_for({OLD.id, current.id}) == current  # mixed: the build says so
    assert settings_for({"fp9:unknown"}) == current


def test_an_old_privacy_ledger_is_indexed_and_recorded_with_its_settings(
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger(url) as ledger:
        ledger.record(privacy_form(NewOutput("anthropic", "m", PY_OUTPUT), OLD))
        assert ledger.stored_fp_configs() == {OLD.id}
    monkeypatch.setenv("DISTILLGUARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DISTILLGUARD_DB", url)
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    args = ["record", "-", "--vendor", "openai", "--model", "m", "--fingerprints-only"]
    recorded = CliRunner().invoke(main, args, input=JS_OUTPUT, catch_exceptions=False)
    assert recorded.exit_code == 0, recorded.output
    with Ledger(url) as ledger:
        assert ledger.stored_fp_configs() == {OLD.id}  # not mixed with the new settings
        builder = IndexBuilder(ledger, tmp_path / "index")
        assert builder.config == OLD
        builder.build()
    index = Index.open(tmp_path / "index")
    assert index.manifest.fp_config == OLD.id
    (match,) = Matcher(index, lambda v: True).match([embed(PY_OUTPUT)[0]])[0]
    assert match.vendor == "anthropic"
