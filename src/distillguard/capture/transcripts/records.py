"""What the transcript readers share: reading JSON Lines, and the answers they produce."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from distillguard.capture.wire.base import Reply
from distillguard.capture.wire.prices import PriceTable
from distillguard.ledger.edits import Edit
from distillguard.model import NewOutput


@dataclass(frozen=True)
class Problem:
    """A line (``path:lineno``) or file that could not be used, and why."""

    where: str
    reason: str


@dataclass(frozen=True)
class Answer:
    """One model answer read from a transcript: the output to record and its file edits."""

    output: NewOutput
    edits: tuple[Edit, ...] = ()
    call_ids: tuple[str, ...] = ()

    def with_source(self, source: str) -> Answer:
        return replace(self, edits=tuple(replace(e, source=source) for e in self.edits))


@dataclass(frozen=True)
class Context:
    """Who and what an answer is recorded under, beyond what the transcript says."""

    vendor: str
    tool: str
    actor: str | None = None
    team: str | None = None
    prices: PriceTable | None = None


@dataclass
class Pending:
    """An answer being gathered from a transcript's records."""

    message_id: str | None
    model: str
    session: str | None
    created_at: datetime | None
    cwd: str | None
    request: list[str] = field(default_factory=list)


def read_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]] | Problem]:
    """``(lineno, record)`` for every JSON object line of ``path``; a Problem for each bad one."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield Problem(f"{path}:{lineno}", f"malformed JSON: {exc}")
                continue
            if not isinstance(record, dict):
                yield Problem(f"{path}:{lineno}", "not a JSON object")
                continue
            yield lineno, record


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (``...Z``) as an aware datetime, or None when it is not one (the
    answer is then recorded at the time of the import)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date-time, or out of range in UTC
        return None


def output_of(pending: Pending, reply: Reply, ctx: Context, source_id: str | None) -> NewOutput:
    """The output of a gathered answer, as the gateway would record it."""
    tokens = reply.tokens
    model = reply.model or pending.model
    cost = ctx.prices.cost(ctx.vendor, model, tokens) if ctx.prices else None
    request = [r for r in pending.request + reply.quoted if r]
    return NewOutput(
        vendor=ctx.vendor,
        model=model,
        text=reply.text,
        tool=ctx.tool,
        actor=ctx.actor,
        team=ctx.team,
        session=pending.session,
        request="\n\n".join(request) or None,
        source_id=None if pending.message_id else source_id,
        message_id=pending.message_id,
        created_at=pending.created_at,
        **tokens.columns(),
        cost_usd=cost,
        price_version=ctx.prices.version if ctx.prices and cost is not None else None,
    )


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
