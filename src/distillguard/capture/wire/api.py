"""What the gateway must know of one wire format, in one place per API.

An :class:`Api` says which requests are model calls or fetch answers made earlier (both
recorded) and which carry no model text (metadata; every other request is refused), which
parser rebuilds an answer, what a request quotes, where the model is named, how the vendor's
key is sent and how the vendor writes an error. The gateway routes, judges,
forwards and refuses with these alone; adding a wire format is one module and one entry in
:data:`APIS`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distillguard.capture.wire import (
    anthropic,
    batch,
    bedrock,
    gemini,
    openai_chat,
    openai_completions,
    openai_responses,
    vertex,
)
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

    ``recorded``: model calls (the body names the model); ``fetched``: requests for answers
    made earlier (batch results, a stored response), recorded too; ``metadata``: endpoints
    whose answers hold no model text; ``unjudged``: metadata endpoints that start model calls
    the gateway cannot judge (a batch: its models are in its requests or its input file). Each
    is a list of patterns, ``[METHOD ]glob``: without a method any method matches; ``*``
    crosses ``/``, ``{name}`` is one segment. ``parser(path, content_type)``: the parser of a
    recorded path's successful answer (None: no parser reads it; the gateway records it raw,
    :mod:`.raw`); ``request_text(path, body)``:
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
    fetched: tuple[str, ...] = ()
    unjudged: tuple[str, ...] = ()

    def is_recorded(self, path: str, method: str | None = None) -> bool:
        return matches(path, method, self.recorded)

    def is_fetched(self, path: str, method: str | None = None) -> bool:
        return matches(path, method, self.fetched)

    def is_metadata(self, path: str, method: str | None = None) -> bool:
        return matches(path, method, self.metadata)

    def is_unjudged(self, path: str, method: str | None = None) -> bool:
        return matches(path, method, self.unjudged)


def matches(path: str, method: str | None, patterns: Sequence[str]) -> bool:
    """Whether a ``[METHOD ]glob`` of ``patterns`` matches (any method when ``method`` is
    None)."""
    for pattern in patterns:
        verb, _, glob = pattern.rpartition(" ")
        if verb and method is not None and verb != method.upper():
            continue
        if _glob(glob).fullmatch(path):
            return True
    return False


@functools.lru_cache(maxsize=1024)
def _glob(glob: str) -> re.Pattern[str]:
    """``*``: anything, ``/`` included; ``{name}``: one segment; the rest literally."""
    pieces = re.split(r"(\{[^{}/]*\})", glob)
    out = [("[^/]+" if piece.startswith("{") else re.escape(piece).replace(r"\*", ".*"))
           for piece in pieces if piece]  # fmt: skip
    return re.compile("".join(out), re.DOTALL)


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
    if path.endswith("/results"):  # batch results: JSONL, whatever the content type says
        return batch.anthropic_results(path)
    if _streamed(content_type):
        return anthropic.Stream()
    return JsonBody(anthropic.from_body) if _json(content_type) else None


def anthropic_error(kind: str, status: int, message: str) -> ErrorBody:
    return ErrorBody({"type": "error", "error": {"type": _ANTHROPIC_ERRORS[kind],
                                                 "message": message}})  # fmt: skip


#: Endpoints whose answers hold no model text: models, token counts, a batch's state.
_ANTHROPIC_METADATA = (
    "GET /v1/models", "GET /v1/models/{id}", "POST /v1/messages/count_tokens",
    "POST /v1/messages/batches", "GET /v1/messages/batches", "GET /v1/messages/batches/{id}",
    "DELETE /v1/messages/batches/{id}", "POST /v1/messages/batches/{id}/cancel",
)  # fmt: skip
ANTHROPIC = Api(
    name="anthropic",
    recorded=("POST */v1/messages",),
    fetched=("GET /v1/messages/batches/{id}/results",),
    metadata=_ANTHROPIC_METADATA,
    unjudged=("POST /v1/messages/batches",),
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
    if path.startswith("/v1/files/"):  # a batch's output file: JSONL, whatever its type
        return batch.openai_file(path)
    streamed, plain = _streamed(content_type), _json(content_type)
    if not (streamed or plain):
        return None
    if "/chat/completions" in path:
        return openai_chat.Stream() if streamed else JsonBody(openai_chat.from_body)
    if path.endswith("/completions"):
        return openai_completions.Stream() if streamed else JsonBody(openai_completions.from_body)
    return openai_responses.Stream() if streamed else JsonBody(openai_responses.from_body)


def _openai_request_text(path: str, body: Mapping[str, Any]) -> list[str]:
    if path.endswith("/chat/completions"):
        return openai_chat.request_text(dict(body))
    if path.endswith("/completions"):
        return openai_completions.request_text(dict(body))
    return openai_responses.request_text(dict(body))


def openai_error(kind: str, status: int, message: str) -> ErrorBody:
    kind_type, code = _OPENAI_ERRORS[kind]
    return ErrorBody({"error": {"message": message, "type": kind_type, "param": None,
                                "code": code}})  # fmt: skip


#: Answers made earlier: a stored response or completion, a batch's output file.
_OPENAI_FETCHED = (
    "GET /v1/responses/{id}", "POST /v1/responses/{id}/cancel", "GET /v1/chat/completions/{id}",
    "GET /v1/files/{id}/content",
)  # fmt: skip
#: Models, token counts, batches and their files (uploaded requests, a file's state).
_OPENAI_METADATA = (
    "GET /v1/models", "GET /v1/models/{id}", "DELETE /v1/models/{id}",
    "POST /v1/responses/input_tokens", "POST /v1/batches", "GET /v1/batches",
    "GET /v1/batches/{id}", "POST /v1/batches/{id}/cancel", "POST /v1/files", "GET /v1/files",
    "GET /v1/files/{id}", "DELETE /v1/files/{id}",
)  # fmt: skip
OPENAI = Api(
    name="openai",
    recorded=("POST */chat/completions", "POST */responses", "POST */v1/completions"),
    fetched=_OPENAI_FETCHED,
    metadata=_OPENAI_METADATA,
    unjudged=("POST /v1/batches",),
    parser=_openai_parser,
    request_text=_openai_request_text,
    error=openai_error,
    key_header=lambda secret: (b"authorization", b"Bearer " + secret.encode("latin-1")),
)


# --- Google Gemini ---------------------------------------------------------------------------

#: The calls that answer with model text (any method: nothing else is served at these paths).
_GEMINI_CALLS = (
    "/{version}/models/{model}:generateContent", "/{version}/models/{model}:streamGenerateContent",
    "/{version}/tunedModels/{model}:generateContent",
    "/{version}/tunedModels/{model}:streamGenerateContent",
)  # fmt: skip
#: The model list, one model's description, token counting.
_GEMINI_METADATA = (
    "GET /{version}/models", "GET /{version}/models/{model}",
    "POST /{version}/models/{model}:countTokens",
)  # fmt: skip


def _gemini_parser(path: str, content_type: str) -> Parser | None:
    if _streamed(content_type):
        return gemini.Stream()
    if not _json(content_type):
        return None
    if path.endswith(":streamGenerateContent"):
        return gemini.ArrayStream()
    return JsonBody(gemini.from_body)


def gemini_error(kind: str, status: int, message: str) -> ErrorBody:
    return ErrorBody(gemini.error(kind, status, message))


GEMINI = Api(
    name="gemini",
    recorded=_GEMINI_CALLS,
    metadata=_GEMINI_METADATA,
    parser=_gemini_parser,
    request_text=lambda _path, body: gemini.request_text(dict(body)),
    error=gemini_error,
    key_header=lambda secret: (b"x-goog-api-key", secret.encode("latin-1")),
    path_model=gemini.path_model,
)

# --- Claude on Vertex AI and on Bedrock: Anthropic's body; the gateway signs upstream ----------

VERTEX = Api(
    name="vertex",
    recorded=vertex.RECORDED,
    metadata=vertex.METADATA,
    parser=vertex.parser,
    request_text=lambda _path, body: anthropic.request_text(dict(body)),
    error=lambda kind, status, message: ErrorBody(gemini.error(kind, status, message)),
    key_header=None,
    path_model=vertex.path_model,
)
BEDROCK = Api(
    name="bedrock",
    recorded=bedrock.RECORDED,
    metadata=bedrock.METADATA,
    parser=bedrock.parser,
    request_text=lambda _path, body: anthropic.request_text(dict(body)),
    error=lambda kind, _status, message: ErrorBody(*bedrock.error(kind, message)),
    key_header=None,
    path_model=bedrock.path_model,
)

#: Every wire format the gateway speaks, by ``[upstreams.NAME] api``.
APIS: Mapping[str, Api] = {api.name: api for api in (ANTHROPIC, OPENAI, GEMINI, VERTEX, BEDROCK)}


def api_of(name: str) -> Api:
    """The wire format ``name``; the OpenAI one for a name the gateway does not know (the
    format most clients read, for errors before an upstream is known)."""
    return APIS.get(name, OPENAI)
