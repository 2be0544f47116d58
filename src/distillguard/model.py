"""Core records shared by every part of distillguard, as frozen dataclasses."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

log = logging.getLogger("distillguard.capture")

#: The largest token count recorded for one output: far more than any call holds, and small
#: enough that the sums of millions of outputs still fit a signed 64-bit column.
MAX_TOKENS = 10**12


def token_count(value: object) -> int | None:
    """``value`` as a recorded token count: a non-negative int, at most :data:`MAX_TOKENS`
    (larger ones are clamped to it); None for anything that is not a count (negative, a
    float, a bool, a string). The one check every capture path applies to vendor usage."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return min(value, MAX_TOKENS)


class UsageColumns(TypedDict):
    """An output's token columns, as :meth:`Usage.columns` fills them."""

    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None


#: The token counts of :class:`Usage`, in the order of the ledger's usage columns.
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h", "reasoning")


@dataclass
class Usage:
    """Token usage of one answer: the one shape every capture path (gateway, transcripts,
    hooks, pricing, budgets) passes around. ``input`` is the input at the full price
    (Anthropic's ``input_tokens``; OpenAI's prompt tokens less the cached ones), so input +
    cache_read + cache_write is the whole prompt. Every count is checked where it is set
    (:func:`token_count`). ``estimated``: the counts were not reported by the vendor but
    estimated from the recorded text (never shown as exact)."""

    input: int | None = None
    output: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None
    cache_write_1h: int | None = None
    reasoning: int | None = None
    estimated: bool = False

    def __setattr__(self, name: str, value: Any) -> None:
        if name in TOKEN_KINDS:
            count = token_count(value)
            if value is not None and count != value:
                log.warning("usage %s: %r is not a token count, recorded as %s", name, value, count)
            value = count
        super().__setattr__(name, value)

    @property
    def reported(self) -> bool:
        """Whether any count is known."""
        return any(getattr(self, kind) is not None for kind in TOKEN_KINDS)

    def columns(self) -> UsageColumns:
        """The output's usage columns (``input_tokens``, ...) from these counts."""
        return {
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_tokens": self.cache_read,
            "cache_write_tokens": self.cache_write,
            "reasoning_tokens": self.reasoning,
        }


def content_hash(text: str) -> str:
    """The content hash of an output's text, prefixed with its algorithm."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewOutput:
    """An outside-model output about to be recorded.

    ``text`` is None in fingerprints-only (privacy) mode; then ``fingerprints`` holds the
    serialized fingerprint set and ``fp_config`` the id of the settings that made it.
    ``request`` is what the model was given: its content is never attributed to the vendor.
    ``usage_estimated``: the token counts were estimated from the text (the vendor sent none);
    ``unparsed``: the answer came in a form no parser reads and ``text`` is its raw body.
    """

    vendor: str
    model: str
    text: str | None
    tool: str | None = None
    actor: str | None = None
    team: str | None = None
    session: str | None = None
    purpose: str | None = None
    request: str | None = None
    source_id: str | None = None
    message_id: str | None = None
    created_at: datetime | None = None
    fingerprints: bytes | None = None
    fp_config: str | None = None
    text_hash: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    price_version: str | None = None
    upstream: str | None = None
    key_id: str | None = None
    usage_estimated: bool = False
    unparsed: bool = False

    def content_hash(self) -> str:
        if self.text is not None:
            return content_hash(self.text)
        if self.text_hash is None:
            raise ValueError("an output without text needs text_hash")
        return self.text_hash

    def idempotency_key(self) -> str:
        """The vendor's message id when there is one, else content + vendor + model + source."""
        if self.message_id:
            return f"msg:{self.vendor}:{self.message_id}"
        parts = [self.content_hash(), self.vendor, self.model, self.source_id or ""]
        return "sha256:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Output:
    """An output as stored in the ledger."""

    id: str
    seq: int
    vendor: str
    model: str
    text: str | None
    content_hash: str
    idempotency_key: str
    created_at: datetime
    tool: str | None = None
    actor: str | None = None
    team: str | None = None
    session: str | None = None
    purpose: str | None = None
    request: str | None = None
    source_id: str | None = None
    message_id: str | None = None
    fingerprints: bytes | None = None
    fp_config: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    price_version: str | None = None
    upstream: str | None = None
    key_id: str | None = None
    usage_estimated: bool = False
    unparsed: bool = False


#: Usage fields of an output (tokens, cost): ``input_tokens`` counts the input read at the full
#: price (not from the cache), so input + cache_read + cache_write is the whole prompt.
USAGE_FIELDS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "price_version", "upstream", "key_id",
)  # fmt: skip


@dataclass(frozen=True)
class GatewayKey:
    """A gateway key as stored: only the hash of the secret, and the grant that came with it.

    ``expires_at`` is the end of the grant (exclusive); None: no end.
    """

    id: str
    key_hash: str
    actor: str
    team: str
    approved_by: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def refusal(self, now: datetime) -> str | None:
        """Why this key cannot be used at ``now``, or None when it can."""
        if self.revoked_at is not None:
            return f"the key {self.id} was revoked"
        if self.expires_at is not None and now >= self.expires_at:
            day = self.expires_at.date().isoformat()
            return f"the grant of key {self.id} (approved by {self.approved_by}) ended on {day}"
        return None


@dataclass(frozen=True)
class UsageRow:
    """Totals of the outputs of one group (and one vendor) in a usage report.

    ``unpriced`` counts outputs whose cost is unknown (a model missing from the price table);
    their cost is not in ``cost_usd``. ``estimated`` counts outputs whose token counts were
    estimated (the vendor sent none), and ``estimated_tokens`` their input and output tokens:
    those are in the totals, and never to be shown as exact.
    """

    group: str | None
    vendor: str
    outputs: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    unpriced: int
    estimated: int = 0
    estimated_tokens: int = 0


@dataclass(frozen=True)
class Recorded:
    """The result of recording one output: its id, and whether it was new."""

    id: str
    created: bool


@dataclass(frozen=True)
class PartMatch:
    """One part of an output (a code unit, a paragraph) found in a document: its ordinal in
    the output (0-based), ``code`` or ``prose``, its lines in the output (1-based, inclusive)
    and the share of its fingerprints found."""

    index: int
    kind: str
    lines: tuple[int, int]
    containment: float


@dataclass(frozen=True)
class Match:
    """One recorded output found in one document.

    ``containment`` is over the whole output; ``parts`` are the parts of a many-part output
    that were evidence enough on their own. ``field``: the path of the record's string the
    spans index into (a chat turn, a nested field), when the document was gathered from
    several strings; None: spans index the text.
    """

    output_id: str
    vendor: str
    model: str
    containment: float
    spans: tuple[tuple[int, int], ...]
    matched: int = 0
    field: str | None = None
    parts: tuple[PartMatch, ...] = ()


@dataclass(frozen=True)
class Finding:
    """A document with the outputs found in it."""

    doc: str
    matches: tuple[Match, ...] = field(default_factory=tuple)
