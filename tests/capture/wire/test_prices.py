"""The packaged price table: every vendor's current models, each with a dated source; the
loader's checks; Gemini's output cap; which models of a ledger have no price."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from distillguard.capture.wire import prices as pricing
from distillguard.errors import ConfigError
from distillguard.ledger.accounts import ModelSeen

TABLE = pricing.load()
DATED = re.compile(r"\(.*\b20\d\d-\d\d-\d\d\b.*\)")
#: The models the newest CLIs send by default (issue 12): no published price was found.
UNPRICED_DEFAULTS = (("anthropic", "claude-opus-5-5"), ("openai", "gpt-6.2-sol"))
CURRENT = [("anthropic", "claude-opus-4-8"), ("anthropic", "claude-sonnet-4-6"),
           ("openai", "gpt-5.5"), ("openai", "gpt-5.4-mini"),
           ("google", "gemini-2.5-pro"), ("google", "gemini-3-pro-preview")]  # fmt: skip


def test_every_packaged_price_has_a_dated_source() -> None:
    for vendor, models in TABLE.prices.items():
        for model, price in models.items():
            assert price.source and DATED.search(price.source), (vendor, model)
            assert price.source.startswith("https://"), (vendor, model)


def test_every_supported_vendor_has_current_models() -> None:
    assert set(TABLE.prices) == {"anthropic", "openai", "google"}
    for vendor, model in CURRENT:
        assert TABLE.price(vendor, model) is not None, (vendor, model)
    assert TABLE.version == "2026-12-02"


def test_the_newest_cli_defaults_stay_unpriced() -> None:
    for vendor, model in UNPRICED_DEFAULTS:
        assert TABLE.price(vendor, model) is None


def test_a_dated_model_name_uses_its_base_price() -> None:
    assert TABLE.price("anthropic", "claude-haiku-4-5-20251001") == TABLE.price(
        "anthropic", "claude-haiku-4-5"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ('input = 1\noutput = 2\nsource = ""', "source must be a non-empty string"),
        ("input = 1\noutput = 2\nsource = 3", "source must be a non-empty string"),
        ('input = 1\noutput = 2\nsourse = "x"', "unknown field"),
    ],
)
def test_a_bad_source_is_a_config_error(tmp_path: Path, spec: str, message: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(f'version = "1"\n[openai."gpt-x"]\n{spec}\n')
    with pytest.raises(ConfigError, match=message):
        pricing.load(path)


def test_a_table_without_sources_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('version = "mine"\n[metacode."*"]\ninput = 0\noutput = 0\n')
    price = pricing.load(path).price("metacode", "llama-internal")
    assert price is not None and price.source is None


def test_gemini_output_cap_is_generation_config_max_output_tokens() -> None:
    body = {"contents": [], "generationConfig": {"maxOutputTokens": 2048, "temperature": 0}}
    assert pricing.output_cap(body) == 2048
    assert pricing.output_cap({"generationConfig": {"maxOutputTokens": 10**9}}) == 128_000
    assert pricing.output_cap({"generationConfig": {"maxOutputTokens": True}}) == 128_000
    assert pricing.output_cap({"generationConfig": "nonsense"}) == 128_000
    path = "/v1beta/models/gemini-2.5-pro:generateContent"
    estimate = TABLE.estimate("google", "gemini-2.5-pro", path, body, 400)
    assert estimate.usd == pytest.approx((400 * 1.25 + 2048 * 10.0) / 1e6)


def test_unpriced_lists_the_models_without_a_price() -> None:
    seen = [
        ModelSeen("anthropic", "claude-opus-5-5", 3, 3),
        ModelSeen("anthropic", "claude-sonnet-4-6-20260101", 9, 9),
        ModelSeen("openai", "gpt-6.2-sol", 2, 1),
        ModelSeen("google", "gemini-2.5-flash", 1, 1),
    ]
    missing = pricing.unpriced(TABLE, seen)
    assert [(m.vendor, m.model) for m in missing] == list(UNPRICED_DEFAULTS)


def test_a_model_bought_through_a_cloud_is_priced_as_the_vendors_own() -> None:
    """Vertex and Bedrock name Claude their own way; admission and the ledger see those ids."""
    from distillguard.capture.wire import prices

    table = prices.load()
    own = table.price("anthropic", "claude-sonnet-4-5")
    assert own is not None
    cloud_ids = (
        "claude-sonnet-4-5@20250929",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-sonnet-4-5-v1",
    )
    for cloud_id in cloud_ids:
        assert table.price("anthropic", cloud_id) == own, cloud_id
    assert prices.base_name("gpt-4o-2024-08-06") == "gpt-4o"  # the vendors' own spelling still
    assert prices.base_name("claude-sonnet-4-5-v2-thing") == "claude-sonnet-4-5-v2-thing"
