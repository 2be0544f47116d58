"""The README's configuration snippets are valid as written: every ``distillguard.toml`` example
passes ``config validate`` with no warning, and the Codex and Claude Code blocks have the shape
the CLIs need (tests/test_snippets_run.py runs them with the real CLIs through the gateway)."""

from __future__ import annotations

import shutil
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from tests.readme import CLAUDE_CODE, CODEX, GATEWAY, KEY, Block, config_examples, the_block

EXAMPLES = config_examples()


def said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join(result.output.split())


def test_the_readme_has_its_examples() -> None:
    """So that the tests below cannot pass on nothing: the [[rules]] example and the
    Configuration section's file."""
    texts = [b.text for b in EXAMPLES]
    assert any("[[rules]]" in t for t in texts)
    assert any("[upstreams." in t and "[teams." in t and "[gateway]" in t for t in texts)


@pytest.mark.parametrize("block", EXAMPLES, ids=lambda b: f"README.md:{b.line}")
def test_each_config_example_validates(run, tmp_path: Path, block: Block) -> None:  # type: ignore[no-untyped-def]
    """Written to a file next to a copy of the packaged price table (what ``prices =
    "prices.toml"`` asks for), each example is accepted without a warning."""
    packaged = resources.files("distillguard.capture.wire").joinpath("prices.toml")
    with resources.as_file(packaged) as prices:
        shutil.copy(prices, tmp_path / "prices.toml")
    (tmp_path / "distillguard.toml").write_text(block.text)
    result = run("--config", "distillguard.toml", "config", "validate")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output, result.output


def test_the_codex_block_is_a_codex_config_naming_its_provider() -> None:
    """Codex 0.169 refuses a provider without ``name`` ("provider name must not be empty"),
    and ``model_provider`` must come before the tables or it belongs to one."""
    block = the_block("toml", CODEX)
    config = tomllib.loads(block.text)
    provider = config["model_providers"][config["model_provider"]]
    assert provider["name"]
    assert provider["base_url"] == f"{GATEWAY}/openai/v1"
    assert provider["wire_api"] == "responses" and provider["env_key"]


def test_the_claude_code_block_points_at_the_gateway() -> None:
    block = the_block("bash", CLAUDE_CODE)
    assert f"ANTHROPIC_BASE_URL={GATEWAY}/anthropic" in block.text
    assert f"ANTHROPIC_API_KEY={KEY}" in block.text
