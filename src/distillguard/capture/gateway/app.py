"""The gateway as a raw ASGI app: ``/healthz``, ``/metrics`` and ``/NAME/...`` per upstream.

``/NAME/<rest>?q`` goes to ``base_url/<rest>?q`` with the client's headers, less hop-by-hop ones
and its distillguard key, plus the vendor key from ``key_env``. The response comes back as it
arrives: status, headers (less hop-by-hop), body bytes unaltered. A model call's answer is
rebuilt on the way and spooled (fsync'd) before the chunk holding its last event is sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from distillguard.capture.gateway import pricing, services
from distillguard.capture.gateway.capture import Exchange, session_of, to_output, tool_of
from distillguard.capture.gateway.decode import decoder_for
from distillguard.capture.gateway.keys import hash_secret, secret_of
from distillguard.capture.gateway.metrics import Metrics
from distillguard.capture.gateway.parsers import Parser, parser_for
from distillguard.capture.gateway.refusals import Refusal
from distillguard.capture.gateway.upstream import AiohttpUpstream, Response, Upstream
from distillguard.config import Settings
from distillguard.config import Upstream as UpstreamConfig
from distillguard.errors import UpstreamError
from distillguard.model import GatewayKey

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("distillguard.gateway")
HOP_BY_HOP = frozenset(
    b"connection keep-alive proxy-authenticate proxy-authorization proxy-connection te trailer "
    b"transfer-encoding upgrade".split()
)
DROP_REQUEST = HOP_BY_HOP | {b"host", b"content-length", b"x-api-key", b"authorization"}
MAX_JSON_BODY = 64 * 1024 * 1024
#: Request bodies larger than this (an agent's long conversation) are parsed in a thread.
OFF_LOOP_JSON = 256 * 1024


class Gateway:
    """The ASGI app. ``clients`` replaces the HTTP client of each upstream (tests)."""

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        client_factory: Callable[[UpstreamConfig], Upstream] | None = None,
        refresh_s: float = 5.0,
        drain_s: float = 0.5,
    ) -> None:
        env = os.environ if env is None else env
        self.settings = settings
        self.metrics = Metrics()
        self.prices = pricing.load(settings.prices_path)
        self.services: services.Services | None = None
        self._vendor_keys = {
            name: env.get(up.key_env) if up.key_env else None
            for name, up in settings.upstreams.items()
        }
        self._client_factory = client_factory or (lambda _up: AiohttpUpstream())
        self._timing = (refresh_s, drain_s)

    # --- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.error("gateway start failed: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        clients = {name: self._client_factory(up) for name, up in self.settings.upstreams.items()}
        refresh_s, drain_s = self._timing
        self.services = await asyncio.to_thread(
            services.start, self.settings, self.metrics, clients,
            refresh_s=refresh_s, drain_s=drain_s,
        )  # fmt: skip
        self.metrics.spool_depth.set_function(self._spool_depth)
        log.info("gateway started", extra={"upstreams": sorted(self.settings.upstreams)})

    async def shutdown(self) -> None:
        if self.services is None:
            return
        for client in self.services.clients.values():
            await client.close()
        await asyncio.to_thread(self.services.stop)
        self.services = None

    def _spool_depth(self) -> float:
        return 0.0 if self.services is None else float(self.services.spool.depth)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/healthz":
            await _respond(send, 200, b"application/json", orjson.dumps(self._health()))
        elif path == "/metrics":
            await _respond(send, 200, b"text/plain; version=0.0.4", self.metrics.render())
        else:
            await self._proxy(scope, receive, send)

    def _health(self) -> dict[str, Any]:
        stats = self.services.drain.stats if self.services else None
        return {
            "ok": self.services is not None,
            "upstreams": sorted(self.settings.upstreams),
            "spooled": self.services.spool.depth if self.services else None,
            "ledger_error": stats.last_error if stats else None,
        }

    # --- proxying -------------------------------------------------------------------------

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        name, _, rest = raw_path.removeprefix(b"/").partition(b"/")
        upstream = self.settings.upstreams.get(name.decode("latin-1"))
        if upstream is None or self.services is None:
            known = ", ".join(f"/{n}/" for n in sorted(self.settings.upstreams))
            refusal = Refusal("not_found", f"no upstream at /{name.decode('latin-1')}/ ({known})")
            api = "anthropic" if b"/messages" in raw_path else "openai"
            await self._refuse(send, api, refusal, "-")
            return
        status = await self._forward(scope, receive, send, upstream, "/" + rest.decode("latin-1"))
        self.metrics.requests.labels(upstream.name, str(status)).inc()
        self.metrics.latency.labels(upstream.name).observe(time.perf_counter() - started)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, upstream: UpstreamConfig, path: str
    ) -> int:
        assert self.services is not None
        headers = dict(scope["headers"])
        body = await _read_body(receive)
        secret = secret_of(headers)
        keys = self.services.access.keys
        if secret and not keys.known(hash_secret(secret)):  # created since the last refresh?
            await asyncio.to_thread(keys.fetch, hash_secret(secret))
        parsed = await _json_body(body)
        granted = self._admit(secret, headers, parsed, upstream, path)
        if isinstance(granted, Refusal):
            return await self._refuse(send, upstream.api, granted, upstream.name)
        url = upstream.base_url + path
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        out = _request_headers(scope["headers"], upstream, self._vendor_keys[upstream.name])
        client = self.services.clients[upstream.name]
        try:
            response = await client.send(scope["method"], url, out, body)
        except UpstreamError as exc:
            self.metrics.upstream_errors.labels(upstream.name).inc()
            kind = "timeout" if exc.timeout else "upstream"
            message = f"upstream {upstream.name} ({upstream.base_url}): {exc}"
            return await self._refuse(send, upstream.api, Refusal(kind, message), upstream.name)
        try:
            await self._relay(send, response, granted, path)
        finally:
            await response.close()
        return response.status

    def _admit(
        self,
        secret: str | None,
        headers: dict[bytes, bytes],
        parsed: dict[str, Any] | None,
        upstream: UpstreamConfig,
        path: str,
    ) -> Exchange | Refusal:
        """The exchange when the caller may make this call, else why not."""
        assert self.services is not None
        access = self.services.access
        key = access.authenticate(secret, datetime.now(UTC))
        if isinstance(key, Refusal):
            return key
        model = parsed.get("model") if parsed else None
        model = model if isinstance(model, str) else None
        refusal = access.authorize(key, upstream.vendor, model)
        if refusal is not None:
            return refusal
        if upstream.key_env and not self._vendor_keys[upstream.name]:
            message = f"the gateway has no key for upstream {upstream.name}: set {upstream.key_env}"
            return Refusal("config", message)
        return _exchange(headers, parsed, upstream, path, key, model)

    async def _relay(self, send: Send, response: Response, exchange: Exchange, path: str) -> None:
        headers = [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        reader = _reader(exchange, response, path)
        held: bytes | None = None
        spooled = False
        try:
            async for chunk in response.body():
                if reader is None:
                    await _chunk(send, chunk)
                    continue
                final = reader.feed(chunk)
                if reader.streamed:
                    if final and not spooled:
                        spooled = await self._capture(exchange, reader.parser)
                    await _chunk(send, chunk)
                else:  # a JSON body: its last bytes wait until it is spooled
                    if held is not None:
                        await _chunk(send, held)
                    held = chunk
        except UpstreamError as exc:
            log.warning("upstream %s broke off: %s", exchange.upstream.name, exc)
            if reader is not None and not spooled:
                await self._capture(exchange, reader.parser)
            raise
        if reader is not None and not spooled:
            await self._capture(exchange, reader.parser)
        if held is not None:
            await _chunk(send, held)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _capture(self, exchange: Exchange, parser: Parser) -> bool:
        """Spool the answer (fsync'd) before its last event goes out."""
        assert self.services is not None
        reply = parser.reply()
        new = to_output(exchange, reply, self.prices)
        if new is None:
            return True
        self.services.access.spend.add(new)
        await self.services.spool.append(new)
        name = exchange.upstream.name
        self.metrics.outputs.labels(name).inc()
        for kind in ("input", "output", "cache_read", "cache_write"):
            count = getattr(reply.tokens, kind)
            if count:
                self.metrics.tokens.labels(name, kind).inc(count)
        if new.cost_usd:
            self.metrics.cost.labels(name).inc(new.cost_usd)
        if not log.isEnabledFor(logging.INFO):
            return True
        log.info(
            "captured",
            extra={"output": new.idempotency_key(), "actor": new.actor, "model": new.model,
                   "tool": new.tool, "complete": reply.complete, "cost_usd": new.cost_usd},
        )  # fmt: skip
        return True

    async def _refuse(self, send: Send, api: str, refusal: Refusal, upstream: str) -> int:
        self.metrics.refusals.labels(refusal.kind).inc()
        log.info("refused", extra={"upstream": upstream, "kind": refusal.kind,
                                   "reason": refusal.message})  # fmt: skip
        status, headers, body = refusal.render(api)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status


class _Reader:
    """A parser fed with decoded bytes; disabled (with a warning) on undecodable data."""

    def __init__(self, parser: Parser, decode: Callable[[bytes], bytes], streamed: bool) -> None:
        self.parser, self._decode, self.streamed = parser, decode, streamed
        self.broken = False

    def feed(self, chunk: bytes) -> bool:
        if self.broken:
            return False
        try:
            return self.parser.feed(self._decode(chunk))
        except Exception as exc:  # a corrupt encoding must not break the client's stream
            log.warning("cannot decode the response for capture: %r", exc)
            self.broken = True
            return False


def _reader(exchange: Exchange, response: Response, path: str) -> _Reader | None:
    if not 200 <= response.status < 300:
        return None
    headers = {k.lower(): v.decode("latin-1") for k, v in response.headers}
    content_type = headers.get(b"content-type", "").lower()
    parser = parser_for(exchange.upstream.api, path.split("?")[0], content_type)
    if parser is None:
        return None
    decode = decoder_for(headers.get(b"content-encoding", ""))
    if decode is None:
        log.warning("cannot capture a %s response", headers.get(b"content-encoding"))
        return None
    return _Reader(parser, decode, content_type.startswith("text/event-stream"))


def _exchange(
    headers: dict[bytes, bytes],
    body: dict[str, Any] | None,
    upstream: UpstreamConfig,
    path: str,
    key: GatewayKey,
    model: str | None,
) -> Exchange:
    agent = headers.get(b"user-agent", b"").decode("latin-1")
    return Exchange(upstream, path, key, tool_of(agent), session_of(headers, body), model, body)


def _request_headers(
    raw: list[tuple[bytes, bytes]], upstream: UpstreamConfig, vendor_key: str | None
) -> list[tuple[bytes, bytes]]:
    """The client's headers, less hop-by-hop ones and its key, plus the vendor's key.
    Brotli is left out of Accept-Encoding: the gateway could not read the answer."""
    out = []
    for name, value in raw:
        lower = name.lower()
        if lower in DROP_REQUEST:
            continue
        if lower == b"accept-encoding":
            value = b", ".join(v.strip() for v in value.split(b",") if v.strip() != b"br")
        out.append((name, value))
    if vendor_key:
        if upstream.api == "anthropic":
            out.append((b"x-api-key", vendor_key.encode("latin-1")))
        else:
            out.append((b"authorization", b"Bearer " + vendor_key.encode("latin-1")))
    return out


async def _json_body(body: bytes) -> dict[str, Any] | None:
    """The request's JSON object (a large one is parsed off the event loop), or None."""
    if not body or len(body) > MAX_JSON_BODY or body.lstrip()[:1] != b"{":
        return None
    try:
        if len(body) > OFF_LOOP_JSON:
            parsed = await asyncio.to_thread(orjson.loads, body)
        else:
            parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _chunk(send: Send, data: bytes) -> None:
    if data:
        await send({"type": "http.response.body", "body": data, "more_body": True})


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
