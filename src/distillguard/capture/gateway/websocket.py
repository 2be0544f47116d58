"""The Responses API over WebSocket (Codex's preferred transport), forwarded and recorded.

A client opens ``GET /NAME/<base path>/responses`` with ``Upgrade: websocket`` (Codex 0.169.0
does when its provider has ``supports_websockets = true``; no subprotocol, ``permessage-deflate``
offered, its key as ``Authorization: Bearer``, ``openai-beta: responses_websockets=...``). It
then sends JSON text frames: ``{"type": "response.create", ...}`` with the fields of a
``POST /v1/responses`` body, one per response; the server answers each with the events the SSE
stream carries, one JSON object per text frame, ending in ``response.completed`` (or
``.incomplete``, ``.failed``), or with ``{"type": "error", "status": N, "error": {...}}``.

Here the handshake: it is checked as an HTTP request is (the route: the Responses endpoint of an
``openai`` upstream; the caller's key, from the same headers or ``?key=``), and a refusal is the
HTTPS path's error response, sent as the handshake's answer. Then the same WebSocket is opened to
the upstream with the vendor key (the client's headers less its key and what each hop makes its
own), and the client is accepted with the vendor's handshake headers. The frames are relayed,
admitted and recorded by :mod:`.websocket_relay`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from distillguard.capture.gateway import routes
from distillguard.capture.gateway.keys import secret_of, without_key
from distillguard.capture.gateway.refusals import Refusal
from distillguard.capture.gateway.websocket_relay import (
    HANDSHAKE,
    HOP_BY_HOP,
    POLICY,
    Link,
    Opened,
    authenticate,
)
from distillguard.capture.wire.api import api_of
from distillguard.config import Upstream as UpstreamConfig

if TYPE_CHECKING:
    from distillguard.capture.gateway.app import Gateway

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("distillguard.gateway")
#: The client's headers that never go to the vendor: its key and what the hop owns.
DROP_REQUEST = HOP_BY_HOP | HANDSHAKE | {b"host", b"x-api-key", b"x-goog-api-key",
                                          b"authorization", b"expect"}  # fmt: skip
#: Frames larger than this from the vendor end the connection (aiohttp's default is 4 MiB).
MAX_UPSTREAM_FRAME = 256 * 2**20
#: aiohttp's own headers, left out: the handshake carries the client's.
SKIP_HEADERS = ("User-Agent", "Accept", "Accept-Encoding")
#: ``permessage-deflate`` with the vendor, as the client would have asked for it.
DEFLATE = 15


async def serve(gateway: Gateway, scope: Message, receive: Receive, send: Send) -> None:
    """One WebSocket connection: check the handshake, connect upstream, relay until either
    side closes."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    opened = await _open(gateway, scope)
    if isinstance(opened, Refusal):
        await _deny(gateway, scope, send, opened)
        return
    session = _session()
    try:
        ws = await _connect(session, gateway, scope, opened.upstream, opened.path)
        if isinstance(ws, Refusal):
            await _deny(gateway, scope, send, ws, opened.upstream)
            return
        link = Link(gateway, opened, dict(scope["headers"]), ws, receive, send)
        await link.accept()
        await link.run()
    finally:
        await session.close()


async def _open(gateway: Gateway, scope: Message) -> Opened | Refusal:
    """What the handshake opens; else why it is refused."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    path = routes.normalise(raw)
    if isinstance(path, Refusal):
        return path
    route = routes.split(path)
    upstream = gateway.settings.upstreams.get(route.upstream)
    if upstream is None or gateway.services is None:
        return Refusal("not_found", f"no upstream at /{route.upstream}/")
    if not _responses(upstream, route.rest):
        return Refusal("not_found", f"GET {route.rest} (WebSocket) is not served through the "
                       "gateway: it serves the Responses API (/responses) of openai upstreams "
                       "over WebSocket")  # fmt: skip
    secret = secret_of(dict(scope["headers"]), scope.get("query_string", b""))
    key = await authenticate(gateway, secret)
    if isinstance(key, Refusal):
        return key
    if upstream.key_env and not gateway._vendor_keys[upstream.name]:
        message = f"the gateway has no key for upstream {upstream.name}: set {upstream.key_env}"
        return Refusal("config", message)
    assert secret is not None
    return Opened(upstream, route.rest, key, secret)


def _responses(upstream: UpstreamConfig, rest: str) -> bool:
    """Whether ``rest`` is the Responses endpoint of an OpenAI upstream."""
    path = rest.rstrip("/")
    api = api_of(upstream.api)
    return (
        upstream.api == "openai"
        and path.endswith("/responses")
        and (routes.kind(api, path) == "recorded")
    )


async def _deny(
    gateway: Gateway,
    scope: Message,
    send: Send,
    refusal: Refusal,
    upstream: UpstreamConfig | None = None,
) -> None:
    """Refuse the handshake: the HTTPS path's error response when the server can send one
    (ASGI ``websocket.http.response``), else a close frame with the reason."""
    api = upstream.api if upstream is not None else "openai"
    gateway.metrics.refusals.labels(refusal.kind).inc()
    log.info("refused", extra={"upstream": upstream.name if upstream else "-",
                               "kind": refusal.kind, "reason": refusal.message})  # fmt: skip
    if "websocket.http.response" not in scope.get("extensions", {}):
        reason = refusal.message.encode()[:120].decode("utf-8", "ignore")
        await send({"type": "websocket.close", "code": POLICY, "reason": reason})
        return
    status, headers, body = refusal.render(api_of(api))
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


def _session() -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=None, connect=10.0)
    return aiohttp.ClientSession(
        timeout=timeout, auto_decompress=False, skip_auto_headers=SKIP_HEADERS,
        trust_env=False,
    )  # fmt: skip


async def _connect(
    session: aiohttp.ClientSession,
    gateway: Gateway,
    scope: Message,
    upstream: UpstreamConfig,
    path: str,
) -> aiohttp.ClientWebSocketResponse | Refusal:
    """The WebSocket to the vendor; a refusal with the vendor's status when it refuses the
    handshake (a client that falls back to HTTPS on that status still does)."""
    url = upstream.base_url + path + _query(scope.get("query_string", b""))
    headers = _request_headers(scope["headers"], upstream, gateway._vendor_keys[upstream.name])
    offered = dict(scope["headers"]).get(b"sec-websocket-protocol", b"").decode("latin-1")
    protocols = [p.strip() for p in offered.split(",") if p.strip()]
    try:
        return await session.ws_connect(
            URL(url, encoded=True), headers=headers, protocols=protocols, autoping=True,
            max_msg_size=MAX_UPSTREAM_FRAME, timeout=aiohttp.ClientWSTimeout(ws_close=10.0),
            compress=DEFLATE,
        )  # fmt: skip
    except aiohttp.WSServerHandshakeError as exc:
        gateway.metrics.upstream_errors.labels(upstream.name).inc()
        message = f"upstream {upstream.name} refused the WebSocket: {exc.status} {exc.message}"
        return Refusal(_kind_of(exc.status), gateway.redact(message))
    except (TimeoutError, aiohttp.ClientError) as exc:
        gateway.metrics.upstream_errors.labels(upstream.name).inc()
        kind = "timeout" if isinstance(exc, TimeoutError) else "upstream"
        message = (
            f"upstream {upstream.name} ({upstream.base_url}): cannot open a WebSocket: {exc!r}"
        )
        return Refusal(kind, gateway.redact(message))


def _kind_of(status: int) -> str:
    """The refusal kind whose status is the vendor's, as near as the kinds go."""
    exact = {401: "authentication", 403: "permission", 404: "not_found", 429: "budget",
             408: "slow_client", 413: "too_large", 504: "timeout"}  # fmt: skip
    if status in exact:
        return exact[status]
    return "bad_request" if 400 <= status < 500 else "upstream"


def _request_headers(
    raw: list[tuple[bytes, bytes]], upstream: UpstreamConfig, vendor_key: str | None
) -> list[tuple[str, str]]:
    """The client's handshake headers, less hop-by-hop and handshake ones and its key, plus
    the vendor's key."""
    out = [(k, v) for k, v in raw if k.lower() not in DROP_REQUEST]
    key_header = api_of(upstream.api).key_header
    if vendor_key and key_header is not None:
        out.append(key_header(vendor_key))
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in out]


def _query(raw: bytes) -> str:
    """``?query`` as the client sent it, less a ``key`` parameter (the caller's key); bytes a
    request line cannot carry raw are escaped."""
    raw = without_key(raw)
    allowed = frozenset(range(0x21, 0x7F)) - {ord("#")}
    return "?" + "".join(chr(b) if b in allowed else f"%{b:02X}" for b in raw) if raw else ""
