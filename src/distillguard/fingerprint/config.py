"""Fingerprint settings. Every fingerprint set records the settings that made it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

CODE = 0
TEXT = 1


def settings_for(stored: set[str]) -> FingerprintConfig:
    """The settings to fingerprint with, given those of the fingerprints a ledger already keeps
    without text (privacy mode): theirs, when they all share one release's settings (such
    outputs cannot be fingerprinted again, and an index never mixes settings), else the
    current ones. So a ledger in privacy mode keeps working across an upgrade of the
    fingerprints, with the settings it started with."""
    current = FingerprintConfig()
    if len(stored) != 1 or current.id in stored:
        return current
    (only,) = stored
    for version in range(current.version - 1, 0, -1):
        older = FingerprintConfig(version=version)
        if older.id == only:
            return older
    return current


@dataclass(frozen=True)
class FingerprintConfig:
    """How text becomes fingerprints.

    ``code_k`` / ``text_k``: tokens (code) or words (prose) per k-gram; ``*_w``: winnowing window
    (in k-grams). Any shared run of ``k + w - 1`` normalized tokens is guaranteed to share a
    fingerprint. ``version`` changes whenever normalization changes meaning; an index keeps the
    settings it was built with, so an older index is still read with its own meaning.
    """

    version: int = 6
    code_k: int = 12
    code_w: int = 6
    text_k: int = 4
    text_w: int = 3
    seed: int = 0x5EED

    def __post_init__(self) -> None:
        for name in ("code_k", "code_w", "text_k", "text_w"):
            value = getattr(self, name)
            if not 1 <= value <= 64:
                raise ValueError(f"FingerprintConfig.{name} must be in 1..64, got {value}")

    @property
    def literal_strings(self) -> bool:
        """One-line string literals are tokens of their contents (since version 5)."""
        return self.version >= 5

    @property
    def v6(self) -> bool:
        """All-capitals keywords (SQL); ``-- `` and ``<!-- -->`` comments (since version 6)."""
        return self.version >= 6

    @property
    def id(self) -> str:
        """A short, stable name for these settings, e.g. ``fp1:3f2a...``."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return f"fp{self.version}:" + hashlib.sha256(blob).hexdigest()[:16]
