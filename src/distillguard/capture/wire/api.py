"""What the gateway must know of one wire format, in one place per API.

An :class:`Api` says which paths are model calls (recorded) and which carry no model text
(metadata), which parser rebuilds an answer, what a request quotes, where the model is named,
how the vendor's key is sent and how the vendor writes an error. The gateway routes, judges,
forwards and refuses with these alone; adding a wire format is one module and one entry in
:data:`APIS`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distillguard.capture.wire import anthropic, openai_chat, openai_responses
from distillguard.capture.wire.base import JsonBody, Parser

#: The gateway's reasons to answer instead of the vendor (see ``gateway.refusals``).
ERROR_KINDS = (
    "authentication", "permission", "not_found", "budget", "bad_request", "too_large",
    "slow_client", "upstream", "timeout", "config",
)  # fmt: skip


@dataclass(frozen=True)
class ErrorBody:
    """An error as the vendor would send it: the JSON body and any headers it adds."""

    body: dict[str, Any]
    headers: tuple[tuple[bytes, bytes], ...] = ()


@dataclass(frozen=True)
class Api:
    """One wire format. Paths are the part after an upstream's ``base_url``, normalised.

    ``recorded`` and ``metadata``: glob patterns (``fnmatch``: ``*`` crosses ``/``);
    ``parser(path, content_type)``: the parser of a model call's successful answer (None: the
    answer cannot be read; the gateway refuses to forward it); ``request_text(path, body)``:
    the new non-assistant content of a call (never attributed to the vendor);
    ``path_model(path)``: the model named in the path (Gemini, Bedrock, Vertex), else None
    (it is in the body); ``key_header(secret)``: the header carrying the vendor's key (None:
    the upstream signs its requests); ``error(kind, status, message)``: the vendor's error.
    """

    name: str
    recorded: tuple[str, ...]
    metadata: tuple[str, ...]
    parser: Callable[[str, str], Parser | None]
    request_text: Callable[[str, Mapping[str, Any]], list[str]]
    error: Callable[[str, int, str], ErrorBody]
    key_header: Callable[[str], tuple[bytes, bytes]] | None
    path_model: Callable[[str], str | None] = field(default=lambda _path: None)

    def is_recorded(self, path: str) -> bool:
        return _matches(path, self.recorded)

    def is_metadata(self, path: str) -> bool:
        return _matches(path, self.metadata)


def _matches(path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def _streamed(content_type: str) -> bool:
    return content_type.startswith("text/event-stream")


def _json(content_type: str) -> bool:
    return content_type.startswith("application/json")


# --- Anthropic Messages ------------------------------------------------------------------

_ANTHROPIC_ERRORS = {
    "authentication": "authentication_error", "permission": "permission_error",
    "not_found": "not_found_error", "budget": "rate_limit_error",
    "bad_request": "invalid_request_error", "too_large": "request_too_large",
    "slow_client": "invalid_request_error", "upstream": "api_error", "timeout": "api_error",
    "config": "api_error",
}  # fmt: skip


def _anthropic_parser(path: str, content_type: str) -> Parser | None:
    if _streamed(content_type):
        return anthropic.Stream()
    return JsonBody(anthropic.from_body) if _json(content_type) else None


def anthropic_error(kind: str, status: int, message: str) -> ErrorBody:
    return ErrorBody({"type": "error", "error": {"type": _ANTHROPIC_ERRORS[kind],
                                                 "message": message}})  # fmt: skip


ANTHROPIC = Api(
    name="anthropic",
    recorded=("*/v1/messages",),
    metadata=("/v1/models", "/v1/models/*", "/v1/messages/count_tokens"),
    parser=_anthropic_parser,
    request_text=lambda _path, body: anthropic.request_text(dict(body)),
    error=anthropic_error,
    key_header=lambda secret: (b"x-api-key", secret.encode("latin-1")),
)


# --- OpenAI Chat Completions and Responses ----------------------------------------------

#: kind -> (OpenAI error type, code)
_OPENAI_ERRORS = {
    "authentication": ("invalid_request_error", "invalid_api_key"),
    "permission": ("invalid_request_error", "permission_denied"),
    "not_found": ("invalid_request_error", "not_found"),
    "budget": ("insufficient_quota", "insufficient_quota"),
    "bad_request": ("invalid_request_error", None),
    "too_large": ("invalid_request_error", "request_too_large"),
    "slow_client": ("invalid_request_error", "request_timeout"),
    "upstream": ("server_error", "upstream_unreachable"),
    "timeout": ("server_error", "upstream_timeout"),
    "config": ("server_error", "gateway_misconfigured"),
}


def _openai_parser(path: str, content_type: str) -> Parser | None:
    streamed, plain = _streamed(content_type), _json(content_type)
    if not (streamed or plain):
        return None
    if path.endswith("/chat/completions"):
        return openai_chat.Stream() if streamed else JsonBody(openai_chat.from_body)
    return openai_responses.Stream() if streamed else JsonBody(openai_responses.from_body)


def _openai_request_text(path: str, body: Mapping[str, Any]) -> list[str]:
    if path.endswith("/chat/completions"):
        return openai_chat.request_text(dict(body))
    return openai_responses.request_text(dict(body))


def openai_error(kind: str, status: int, message: str) -> ErrorBody:
    kind_type, code = _OPENAI_ERRORS[kind]
    return ErrorBody({"error": {"message": message, "type": kind_type, "param": None,
                                "code": code}})  # fmt: skip


OPENAI = Api(
    name="openai",
    recorded=("*/chat/completions", "*/responses"),
    metadata=("/v1/models", "/v1/models/*", "/v1/responses/input_tokens"),
    parser=_openai_parser,
    request_text=_openai_request_text,
    error=openai_error,
    key_header=lambda secret: (b"authorization", b"Bearer " + secret.encode("latin-1")),
)

#: Every wire format the gateway speaks, by ``[upstreams.NAME] api``.
APIS: Mapping[str, Api] = {api.name: api for api in (ANTHROPIC, OPENAI)}


def api_of(name: str) -> Api:
    """The wire format ``name``; the OpenAI one for a name the gateway does not know (the
    format most clients read, for errors before an upstream is known)."""
    return APIS.get(name, OPENAI)
