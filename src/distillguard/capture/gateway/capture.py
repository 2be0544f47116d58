"""From a request and the answer rebuilt from the wire to the NewOutput the ledger records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from distillguard.capture.wire import Reply, estimate
from distillguard.capture.wire.api import api_of
from distillguard.capture.wire.prices import PriceTable
from distillguard.config import Upstream
from distillguard.model import GatewayKey, NewOutput

SESSION_HEADERS = (b"x-claude-code-session-id", b"session-id", b"session_id", b"thread-id",
                   b"conversation_id")  # fmt: skip


def tool_of(user_agent: str) -> str:
    """``claude-code``, ``codex``, ``gemini-cli`` or ``sdk``, from the User-Agent."""
    agent = user_agent.lower()
    if agent.startswith("claude-cli/") or "claude-code" in agent:
        return "claude-code"
    if agent.startswith("codex") or "codex_" in agent:
        return "codex"
    if agent.startswith("geminicli"):  # GeminiCLI/0.61.0/<model> (...), GeminiCLI-tui/...
        return "gemini-cli"
    return "sdk"


def session_of(headers: Mapping[bytes, bytes], body: Mapping[str, Any] | None) -> str | None:
    """Claude Code's ``X-Claude-Code-Session-Id``; Codex's ``session-id`` (also in
    ``x-codex-turn-metadata`` and the body's ``client_metadata``)."""
    for name in SESSION_HEADERS:
        value = headers.get(name)
        if value:
            return value.decode("latin-1")
    metadata = headers.get(b"x-codex-turn-metadata")
    if metadata:
        try:
            session = orjson.loads(metadata).get("session_id")
        except (orjson.JSONDecodeError, AttributeError):
            session = None
        if isinstance(session, str) and session:
            return session
    client = body.get("client_metadata") if body else None
    value = client.get("session_id") if isinstance(client, dict) else None
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Exchange:
    """What the gateway knows of one model call before the answer comes."""

    upstream: Upstream
    path: str
    key: GatewayKey
    tool: str
    session: str | None
    model: str | None
    body: Mapping[str, Any] | None


def to_output(
    exchange: Exchange, reply: Reply, prices: PriceTable, source_id: str | None = None
) -> NewOutput | None:
    """The output to record, or None when the answer holds nothing at all. ``source_id``:
    where in a fetched answer it came from (a batch's line)."""
    text = reply.text
    if not text and not reply.message_id:
        return None
    vendor = exchange.upstream.vendor
    model = reply.model or exchange.model or "unknown"
    tokens = estimate.usage_of(reply, exchange.body)
    cost = prices.cost(vendor, model, tokens)
    asked = api_of(exchange.upstream.api).request_text(exchange.path, exchange.body or {})
    request = asked + reply.quoted
    return NewOutput(
        vendor=vendor,
        model=model,
        text=text,
        tool=exchange.tool,
        actor=exchange.key.actor,
        team=exchange.key.team,
        session=exchange.session,
        request="\n\n".join(r for r in request if r) or None,
        source_id=source_id,
        message_id=reply.message_id,
        created_at=datetime.now(UTC),
        **tokens.columns(),
        cost_usd=cost,
        price_version=prices.version if cost is not None else None,
        upstream=exchange.upstream.name,
        key_id=exchange.key.id,
        unparsed=reply.unparsed,
        usage_estimated=tokens.estimated,
    )
