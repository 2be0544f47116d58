"""Which parser reads a response: by the upstream's API, the path and the content type."""

from __future__ import annotations

from distillguard.capture.wire import anthropic, openai_chat, openai_responses
from distillguard.capture.wire.base import JsonBody, Parser


def parser_for(api: str, path: str, content_type: str) -> Parser | None:
    """The parser of a model call's response, or None for any other endpoint."""
    streamed = content_type.startswith("text/event-stream")
    if not streamed and not content_type.startswith("application/json"):
        return None
    path = path.rstrip("/")
    if api == "anthropic" and path.endswith("/v1/messages"):
        return anthropic.Stream() if streamed else JsonBody(anthropic.from_body)
    if api == "openai" and path.endswith("/chat/completions"):
        return openai_chat.Stream() if streamed else JsonBody(openai_chat.from_body)
    if api == "openai" and path.endswith("/responses"):
        return openai_responses.Stream() if streamed else JsonBody(openai_responses.from_body)
    return None
