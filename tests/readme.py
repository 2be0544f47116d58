"""The README's fenced code blocks, for the tests that run its snippets as written.

``README_UNDER_TEST`` names another copy of the README (to check a change before it is merged).
Blocks are found by their first line: ``# Claude Code`` (bash), ``# ~/.codex/config.toml``
(TOML); every other TOML block is a ``distillguard.toml`` example.
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
#: The placeholders the snippets use for the gateway's address and a distillguard key.
GATEWAY = "http://gw:8787"
KEY = "dg-..."
CLAUDE_CODE = "# Claude Code"
CODEX = "# ~/.codex/config.toml"


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int  # 1-based line of the opening fence

    @property
    def title(self) -> str:
        return self.text.split("\n", 1)[0]


def readme() -> Path:
    return Path(os.environ.get("README_UNDER_TEST") or ROOT / "README.md")


def blocks(lang: str | None = None) -> list[Block]:
    text = readme().read_text(encoding="utf-8")
    found = [
        Block(m["lang"], textwrap.dedent(m["body"]), text.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(text)
    ]
    return [b for b in found if lang is None or b.lang == lang]


def the_block(lang: str, title: str) -> Block:
    """The one ``lang`` block whose first line starts with ``title``."""
    found = [b for b in blocks(lang) if b.title.startswith(title)]
    assert len(found) == 1, f"{readme()}: expected one {lang} block starting {title!r}"
    return found[0]


def config_examples() -> list[Block]:
    """The ``distillguard.toml`` examples: TOML blocks that are not Codex's config."""
    return [b for b in blocks("toml") if not b.title.startswith(CODEX)]


def filled(text: str, origin: str, key: str) -> str:
    """``text`` with the placeholders replaced by a running gateway's origin and a real key."""
    assert GATEWAY in text, f"the snippet no longer names the gateway as {GATEWAY}"
    return text.replace(GATEWAY, origin).replace(KEY, key)
