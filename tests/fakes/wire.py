"""What a rendered answer is: a status, headers, and a body or a list of SSE events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rendered:
    """A response ready to send. ``events`` (a stream) are written one by one, each after
    ``delay`` seconds; ``cut_after`` closes the connection after that many events without
    completing the response."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    events: tuple[bytes, ...] = ()
    stream: bool = False
    delay: float = 0.0
    cut_after: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def dumps(value: Any) -> str:
    """Compact JSON, as the vendors send it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event: ``event: NAME`` (when given) and a ``data:`` line."""
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def json_response(
    status: int, value: Any, headers: tuple[tuple[str, str], ...], delay: float = 0.0
) -> Rendered:
    return Rendered(
        status=status,
        headers=(("content-type", "application/json"), *headers),
        body=dumps(value).encode(),
        delay=delay,
    )


def sse_response(
    events: list[bytes],
    headers: tuple[tuple[str, str], ...],
    *,
    delay: float = 0.0,
    cut_after: int | None = None,
) -> Rendered:
    return Rendered(
        status=200,
        headers=(
            ("content-type", "text/event-stream; charset=utf-8"),
            ("cache-control", "no-cache"),
            *headers,
        ),
        events=tuple(events),
        stream=True,
        delay=delay,
        cut_after=cut_after,
    )
