"""What the gateway reads of a request before it forwards it: the body, within a size and a
time limit, and the model it names, from a body the gateway reads as the vendor would.

A body the gateway cannot judge is refused (in the vendor's error format), never waved through:
a content-encoded body, one over the size limit, invalid UTF-8 or a byte order mark, JSON that
does not parse strictly (a lone surrogate escape, ``NaN``), the same key twice in one object
(the vendor might read the other one), a model call that is not a JSON object or names no model
as a string. Other endpoints' JSON bodies are held to the same reading, and a ``model`` in them
is judged too.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from distillguard.capture.gateway.refusals import Refusal

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
#: Bodies larger than this (an agent's long conversation) are parsed in a thread.
OFF_LOOP_JSON = 256 * 1024
_LONE_SURROGATE_HINT = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Body:
    """A request body: its bytes, its JSON object when it is one, and the model it names."""

    raw: bytes
    parsed: dict[str, Any] | None = None
    model: str | None = None


class Unreadable(ValueError):
    """The body does not parse as the vendor's strict JSON (the message says why)."""


def content_length(headers: Mapping[bytes, bytes], limit: int) -> Refusal | None:
    """A refusal when the declared Content-Length is over ``limit`` (or not a number)."""
    value = headers.get(b"content-length")
    if value is None:
        return None
    if not value.strip().isdigit():
        return Refusal("bad_request", "Content-Length is not a number", close=True)
    return _too_large(limit) if int(value) > limit else None


async def read_body(receive: Receive, limit: int, timeout: float) -> bytes | Refusal:
    """The whole body, or a refusal when it is over ``limit`` bytes or takes over ``timeout``
    seconds to arrive (the connection is then closed: the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return Refusal("bad_request", "the client left before sending its body")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    return _too_large(limit)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        why = f"the request body did not arrive within {timeout:g} s"
        return Refusal("slow_client", why, close=True)


def _too_large(limit: int) -> Refusal:
    size = f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit} bytes"
    message = f"the request body is over the gateway's limit of {size} ([gateway] max_body_mb)"
    return Refusal("too_large", message, close=True)


async def judge(
    raw: bytes, headers: Mapping[bytes, bytes], model_call: bool, path_model: str | None = None
) -> Body | Refusal:
    """The body as the gateway reads it, or why it cannot judge it. ``path_model``: the model
    the path names (APIs that name it there); a body naming another one is refused."""
    if not raw and not model_call:
        return Body(raw, model=path_model)
    encoding = headers.get(b"content-encoding", b"").strip().lower()
    if encoding not in (b"", b"identity"):
        coding = encoding.decode("latin-1")
        return Refusal("bad_request", f"the gateway cannot judge a {coding}-encoded request "
                       "body: send it without Content-Encoding")  # fmt: skip
    if not model_call and not _looks_json(raw, headers):
        return Body(raw, model=path_model)
    try:
        if len(raw) > OFF_LOOP_JSON:
            parsed = await asyncio.to_thread(strict_json, raw)
        else:
            parsed = strict_json(raw)
    except Unreadable as exc:
        return Refusal("bad_request", f"the gateway cannot read this request body: {exc}")
    return _with_model(raw, parsed, model_call, path_model)


def _looks_json(raw: bytes, headers: Mapping[bytes, bytes]) -> bool:
    content_type = headers.get(b"content-type", b"").lower()
    return b"json" in content_type or raw.lstrip()[:1] in (b"{", b"[", b"\xef")


def _with_model(
    raw: bytes, parsed: Any, model_call: bool, path_model: str | None
) -> Body | Refusal:
    if not isinstance(parsed, dict):
        if model_call:
            return Refusal("bad_request", "a model call's body must be a JSON object")
        return Body(raw, model=path_model)
    model = parsed.get("model")
    if "model" in parsed and (not isinstance(model, str) or not model):
        return Refusal("bad_request", f"model must be a non-empty string, not {model!r:.40}")
    if path_model is not None and model is not None and model != path_model:
        return Refusal("bad_request", f"the path names model {path_model!r:.60} and the body "
                       f"{model!r:.60}: which one the vendor reads is not known")  # fmt: skip
    model = model or path_model
    if model_call and model is None:
        return Refusal("bad_request", "a model call must name its model")
    return Body(raw, parsed, model)


def strict_json(raw: bytes) -> Any:
    """``raw`` parsed as strict JSON: UTF-8 without a byte order mark, no lone surrogates,
    no NaN or Infinity, no key twice in one object. Raises :class:`Unreadable`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"invalid UTF-8 at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        raise Unreadable("it starts with a byte order mark")
    try:
        parsed = json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
        if _LONE_SURROGATE_HINT.search(text):
            orjson.loads(raw)  # rejects a \ud800 escape without its pair, as strict parsers do
    except (json.JSONDecodeError, orjson.JSONDecodeError) as exc:
        raise Unreadable(str(exc)) from None
    except RecursionError:
        raise Unreadable("it is nested too deeply") from None
    return parsed


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for i, key in enumerate(keys) if key in keys[:i])
        raise Unreadable(f"the key {twice!r:.60} appears twice in one object")
    return found


def _no_constant(name: str) -> Any:
    raise Unreadable(f"{name} is not JSON")
