"""Errors in each vendor's own format, so SDKs and CLIs show them as they show the vendor's.

Anthropic: ``{"type": "error", "error": {"type": ..., "message": ...}}``; OpenAI:
``{"error": {"message", "type", "param", "code"}}``. A refusal a retry cannot fix (a bad key,
a spent budget) carries ``x-should-retry: false``, which both official SDKs obey. A refusal
sent before the request's body was read asks to close the connection (``close``), so the rest
of that body is not read.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

#: kind -> (status, Anthropic type, OpenAI type, OpenAI code, retry)
KINDS = {
    "authentication": (
        401, "authentication_error", "invalid_request_error", "invalid_api_key", False,
    ),
    "permission": (403, "permission_error", "invalid_request_error", "permission_denied", False),
    "not_found": (404, "not_found_error", "invalid_request_error", "not_found", False),
    "budget": (429, "rate_limit_error", "insufficient_quota", "insufficient_quota", False),
    "bad_request": (400, "invalid_request_error", "invalid_request_error", None, False),
    "too_large": (413, "request_too_large", "invalid_request_error", "request_too_large", False),
    "slow_client": (408, "invalid_request_error", "invalid_request_error", "request_timeout", True),
    "upstream": (502, "api_error", "server_error", "upstream_unreachable", True),
    "timeout": (504, "api_error", "server_error", "upstream_timeout", True),
    "config": (500, "api_error", "server_error", "gateway_misconfigured", False),
}  # fmt: skip


@dataclass(frozen=True)
class Refusal:
    """Why the gateway answers instead of the vendor: ``kind`` is a key of :data:`KINDS`."""

    kind: str
    message: str
    close: bool = False

    @property
    def status(self) -> int:
        return KINDS[self.kind][0]

    def render(self, api: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, headers and body in the format of ``api`` (``anthropic`` or ``openai``)."""
        status, anthropic_type, openai_type, code, retry = KINDS[self.kind]
        if api == "anthropic":
            body = {"type": "error", "error": {"type": anthropic_type, "message": self.message}}
        else:
            error = {"message": self.message, "type": openai_type, "param": None, "code": code}
            body = {"error": error}
        data = orjson.dumps(body)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            (b"x-should-retry", b"true" if retry else b"false"),
            (b"x-distillguard-refusal", self.kind.encode()),
        ]
        if self.close:
            headers.append((b"connection", b"close"))
        return status, headers, data
