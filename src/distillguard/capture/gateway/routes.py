"""The request path, normalised once, and what the gateway does with each path it serves.

A path is normalised before anything looks at it: percent-encoded unreserved characters are
decoded (``%6D`` -> ``m``, ``%2e`` -> ``.``), other escapes are upper-cased, ``.`` and ``..``
segments are resolved and empty ones merged, and bytes a request line should not carry raw are
escaped. The gateway routes, judges and forwards that one string (the HTTP client is told not to
touch it), so the vendor answers the very path the gateway chose a parser for. A path is refused
when it climbs above the root, or holds what servers read in different ways: an encoded ``/``,
``\\`` or ``%``, a raw ``\\``, a ``;`` (path parameters, which some servers drop), control bytes
or a broken escape.

Every request an upstream serves is *recorded* (a model call: its answer is parsed and
spooled), *fetched* (an answer made earlier: batch results, a stored response; recorded the same
way), *metadata* (an explicit list of endpoints whose answers hold no model text), *allowed* by
the config (``[gateway] pass_through``, ``[upstreams.NAME] pass_through``), or *refused*. Each
wire format lists its endpoints by method and path (:class:`~distillguard.capture.wire.api.Api`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from distillguard.capture.gateway.refusals import Refusal
from distillguard.capture.wire.api import Api

Kind = Literal["recorded", "fetched", "metadata", "allowed", "refused"]
#: The kinds whose answers are parsed and spooled.
RECORDED: frozenset[Kind] = frozenset({"recorded", "fetched"})

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_RAW_OK = _UNRESERVED | frozenset(b"!$&'()*+,=:@")
_FORBIDDEN = frozenset(range(0x20)) | {0x7F, ord("/"), ord("\\"), ord("%"), ord(";")}
_HEX = frozenset(b"0123456789abcdefABCDEF")
#: Paths that need no work: segments of plain characters, none of them a dot segment.
_PLAIN = re.compile(rb"(?:/[A-Za-z0-9_~:@!$&'()*+,=-][A-Za-z0-9._~:@!$&'()*+,=-]*)+/?")


@dataclass(frozen=True)
class Route:
    """An upstream's path: ``rest`` is what goes after its ``base_url``."""

    upstream: str
    rest: str


def normalise(raw: bytes) -> str | Refusal:
    """The one form of ``raw`` (a request target's path) that is routed and forwarded."""
    if _PLAIN.fullmatch(raw):
        return raw.decode("ascii")
    if not raw.startswith(b"/"):
        return Refusal("bad_request", "the request path must start with /")
    stack: list[str] = []
    segments = raw[1:].split(b"/")
    for segment in segments:
        decoded = _segment(segment)
        if isinstance(decoded, Refusal):
            return decoded
        if decoded == "..":
            if not stack:
                return Refusal("bad_request", "the request path climbs above its root (..)")
            stack.pop()
        elif decoded not in ("", "."):
            stack.append(decoded)
    trailing = _segment(segments[-1]) in ("", ".", "..") and bool(stack)
    return "/" + "/".join(stack) + ("/" if trailing else "")


def _segment(raw: bytes) -> str | Refusal:
    """One segment with unreserved escapes decoded and every other odd byte escaped."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte == ord("%"):
            pair = raw[i + 1 : i + 3]
            if len(pair) < 2 or not set(pair) <= _HEX:
                return Refusal("bad_request", "the request path holds a broken %-escape")
            byte = int(pair, 16)
            i += 3
        elif byte in _RAW_OK:
            out.append(chr(byte))
            i += 1
            continue
        else:
            i += 1
        if byte in _FORBIDDEN:
            what = "a control character" if byte < 0x20 or byte == 0x7F else repr(chr(byte))
            return Refusal("bad_request", f"the request path holds {what}, which servers read "
                           "in different ways")  # fmt: skip
        out.append(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}")
    return "".join(out)


def split(path: str) -> Route:
    """``/NAME/<rest>`` -> the upstream NAME and ``/<rest>``."""
    name, _, rest = path.removeprefix("/").partition("/")
    return Route(name, "/" + rest)


def kind(api: Api, rest: str, allowed: Sequence[str] = (), method: str | None = None) -> Kind:
    """What the gateway does with ``method rest`` (a normalised path) of an upstream of ``api``
    (any method matches when ``method`` is None)."""
    path = rest.rstrip("/") or "/"
    if api.is_recorded(path, method):
        return "recorded"
    if api.is_fetched(path, method):
        return "fetched"
    if api.is_metadata(path, method):
        return "metadata"
    return "allowed" if _matches(path, allowed) else "refused"


def _matches(path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def refusal(api: Api, method: str, rest: str, upstream: str = "NAME") -> Refusal:
    """Why ``method rest`` is not served, and how an operator would allow it."""
    path = rest.rstrip("/") or "/"
    return Refusal("not_found", f"{method} {path} is not served through the gateway: it records "
                   "model calls and serves an explicit list of metadata endpoints, and this is "
                   "neither. If its answers hold no model text, an operator can allow it: "
                   f'[upstreams.{upstream}] pass_through = ["{path}"] (or [gateway] '
                   "pass_through for every upstream)")  # fmt: skip
