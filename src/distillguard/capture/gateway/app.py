"""The gateway as a raw ASGI app: ``/healthz``, ``/metrics`` and ``/NAME/...`` per upstream.

``/NAME/<rest>?q`` goes to ``base_url/<rest>?q`` with the client's headers, less hop-by-hop ones
and its distillguard key, plus the vendor key from ``key_env``. The response comes back as it
arrives: status, headers (less hop-by-hop), body bytes unaltered. A model call's answer (or a
fetched one: batch results, a stored response) is rebuilt on the way and spooled (fsync'd)
before the chunk holding its last event is sent; an answer no parser reads is recorded raw.
Every refusal is answered in the vendor's error format, logged and counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from distillguard.capture.gateway import admission, routes, services, signing, websocket
from distillguard.capture.gateway.access import Admitted
from distillguard.capture.gateway.admission import Body
from distillguard.capture.gateway.capture import Exchange, session_of, to_output, tool_of
from distillguard.capture.gateway.decode import accept_encoding, decoder_for
from distillguard.capture.gateway.keys import hash_secret, secret_of, without_key
from distillguard.capture.gateway.metrics import Metrics
from distillguard.capture.gateway.redact import Redactor
from distillguard.capture.gateway.refusals import Refusal
from distillguard.capture.gateway.upstream import AiohttpUpstream, Response, Upstream
from distillguard.capture.wire import Parser, Reply, batch, gemini, raw
from distillguard.capture.wire import prices as pricing
from distillguard.capture.wire.api import api_of
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
#: ``expect``: the gateway has the whole body before it calls the vendor (it answered the
#: client's ``100-continue`` itself).
DROP_REQUEST = HOP_BY_HOP | {
    b"host",
    b"content-length",
    b"x-api-key",
    b"x-goog-api-key",
    b"authorization",
    b"expect",
}
#: Content types of answers relayed as they come (SSE; AWS event streams: Bedrock).
STREAMED = ("text/event-stream", "application/vnd.amazon.eventstream")
#: After the shutdown grace, how long answers that were cut may take to be spooled.
CAPTURE_WAIT_S = 10.0
#: Query bytes sent escaped (they cannot go raw in a request line).
_QUERY_RAW = frozenset(range(0x21, 0x7F)) - {ord("#")}


class Gateway:
    """The ASGI app. ``client_factory`` replaces the HTTP client of each upstream (tests)."""

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
        self.limits = settings.gateway_limits
        self.metrics = Metrics()
        self.prices = pricing.load(settings.prices_path)
        self.services: services.Services | None = None
        self.redact = Redactor.of(settings, env)
        self._vendor_keys = {
            name: env.get(up.key_env) if up.key_env else None
            for name, up in settings.upstreams.items()
        }
        self._signers = {
            name: signing.signer_for(up, env) for name, up in settings.upstreams.items()
        }
        self._client_factory = client_factory or (lambda _up: AiohttpUpstream())
        self._timing = (refresh_s, drain_s)
        self._relaying = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # --- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":  # the Responses API over WebSocket
            await websocket.serve(self, scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # any failure to start is reported, not raised
                    log.error("gateway start failed: %s", exc)
                    why = self.redact(str(exc))
                    await send({"type": "lifespan.startup.failed", "message": why})
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
        """Stop, once the answers cut at the end of the shutdown grace are spooled."""
        if self.services is None:
            return
        try:
            await asyncio.wait_for(self._idle.wait(), CAPTURE_WAIT_S)
        except TimeoutError:
            log.error("%d answer(s) still relaying at shutdown: not waiting", self._relaying)
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
        """``ok`` while the gateway can record (started, its spool writable); ``spooled``:
        records not yet in the ledger; ``spool_error``/``ledger_error``: why the last spool
        write or ledger pass failed (null once one succeeds); ``rejected``: records the
        ledger refused, kept aside in the spool directory."""
        if self.services is None:
            return {"ok": False, "upstreams": sorted(self.settings.upstreams), "spooled": None,
                    "spool_error": None, "ledger_error": None, "rejected": None}  # fmt: skip
        spool, stats = self.services.spool, self.services.drain.stats
        return {
            "ok": spool.error is None,
            "upstreams": sorted(self.settings.upstreams),
            "spooled": spool.depth,
            "spool_error": self.redact(spool.error) if spool.error else None,
            "ledger_error": self.redact(stats.last_error) if stats.last_error else None,
            "rejected": stats.rejected,
        }

    # --- proxying -------------------------------------------------------------------------

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path = routes.normalise(raw_path)
        api = self._api_guess(raw_path)
        if isinstance(path, Refusal):
            await self._refuse(send, api, dataclasses.replace(path, close=True), "-")
            return
        route = routes.split(path)
        upstream = self.settings.upstreams.get(route.upstream)
        if upstream is None or self.services is None:
            known = ", ".join(f"/{n}/" for n in sorted(self.settings.upstreams))
            refusal = Refusal("not_found", f"no upstream at /{route.upstream}/ ({known})", True)
            await self._refuse(send, api, refusal, "-")
            return
        status = await self._forward(scope, receive, send, upstream, route.rest)
        self.metrics.requests.labels(upstream.name, str(status)).inc()
        self.metrics.latency.labels(upstream.name).observe(time.perf_counter() - started)

    def _api_guess(self, raw_path: bytes) -> str:
        """The wire format to refuse a path in before it is routed: its upstream's, when the
        first segment names one; else Anthropic's for a Messages path, else OpenAI's."""
        name = raw_path.removeprefix(b"/").partition(b"/")[0].decode("latin-1")
        upstream = self.settings.upstreams.get(name)
        if upstream is not None:
            return upstream.api
        return "anthropic" if b"/messages" in raw_path else "openai"

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, upstream: UpstreamConfig, path: str
    ) -> int:
        """Admit the call (key and route from the headers, before any body is read; then the
        body), send it to the vendor and relay the answer."""
        assert self.services is not None
        headers = dict(scope["headers"])
        granted = await self._admit_headers(scope, headers, upstream, path)
        if isinstance(granted, Refusal):
            return await self._refuse(send, upstream.api, granted, upstream.name)
        key, kind = granted
        body = await self._read(receive, headers, kind, api_of(upstream.api).path_model(path))
        if isinstance(body, Refusal):
            return await self._refuse(send, upstream.api, body, upstream.name)
        exchange = self._admit(key, headers, body, upstream, path)
        if isinstance(exchange, Refusal):
            return await self._refuse(send, upstream.api, exchange, upstream.name)
        url = upstream.base_url + path + _query(scope.get("query_string", b""))
        out = _request_headers(scope["headers"], upstream, self._vendor_keys[upstream.name])
        signer = self._signers[upstream.name]
        client = self.services.clients[upstream.name]
        try:  # however the call ends (cancelled too), its reservation ends with it
            try:
                if signer is not None:
                    out = await signer.sign(scope["method"], url, out, body.raw)
                response = await client.send(scope["method"], url, out, body.raw)
            except UpstreamError as exc:
                self.metrics.upstream_errors.labels(upstream.name).inc()
                kind_ = "timeout" if exc.timeout else "upstream"
                message = self.redact(f"upstream {upstream.name} ({upstream.base_url}): {exc}")
                refusal = Refusal(kind_, message)
                return await self._refuse(send, upstream.api, refusal, upstream.name)
            try:
                recorded = kind in routes.RECORDED
                return await self._relay(receive, send, response, exchange, recorded)
            finally:
                await response.close()
        finally:
            self.services.access.spend.release(exchange.hold)  # its answer, if any, now counts

    async def _admit_headers(
        self, scope: Scope, headers: dict[bytes, bytes], upstream: UpstreamConfig, path: str
    ) -> tuple[GatewayKey, routes.Kind] | Refusal:
        """The caller's key and the route's kind, from the headers alone; else why not (the
        refusal closes the connection: the body is never read)."""
        key = await self._authenticate(headers, scope.get("query_string", b""))
        allowed = (*self.limits.pass_through, *upstream.pass_through)
        method = scope["method"]
        kind = routes.kind(api_of(upstream.api), path, allowed, method)
        if isinstance(key, Refusal):
            refusal: Refusal | None = key
        elif kind == "refused":
            refusal = routes.refusal(api_of(upstream.api), method, path, upstream.name)
        else:
            refusal = self._unjudged(key, upstream, method, path) or admission.content_length(
                headers, self.limits.max_body_bytes
            )
        if refusal is not None:
            return dataclasses.replace(refusal, close=True)
        assert isinstance(key, GatewayKey)
        return key, kind

    def _unjudged(
        self, key: GatewayKey, upstream: UpstreamConfig, method: str, path: str
    ) -> Refusal | None:
        """Why ``key`` may not start model calls whose models the gateway cannot see (a batch),
        if its team may use only some models."""
        assert self.services is not None
        team = self.services.access.teams.get(key.team)
        if team is None or team.models is None:
            return None
        if not api_of(upstream.api).is_unjudged(path.rstrip("/"), method):
            return None
        return Refusal("permission", f"team {team.name} may use only some models "
                       f"({', '.join(team.models) or 'none'}), and the gateway cannot see which "
                       f"models {method} {path} would call (a batch names them in its "
                       "requests): make those calls one by one")  # fmt: skip

    async def _authenticate(
        self, headers: dict[bytes, bytes], query: bytes
    ) -> GatewayKey | Refusal:
        assert self.services is not None
        secret = secret_of(headers, query)
        keys = self.services.access.keys
        if secret and not keys.known(hash_secret(secret)):  # created since the last refresh?
            await asyncio.to_thread(keys.fetch, hash_secret(secret))
        return self.services.access.authenticate(secret, datetime.now(UTC))

    async def _read(
        self,
        receive: Receive,
        headers: dict[bytes, bytes],
        kind: routes.Kind,
        path_model: str | None,
    ) -> Body | Refusal:
        limits = self.limits
        raw = await admission.read_body(receive, limits.max_body_bytes, limits.body_timeout_s)
        if isinstance(raw, Refusal):
            return raw
        return await admission.judge(raw, headers, kind == "recorded", path_model)  # a model call

    def _admit(
        self,
        key: GatewayKey,
        headers: dict[bytes, bytes],
        body: Body,
        upstream: UpstreamConfig,
        path: str,
    ) -> Admitted | Refusal:
        """The exchange when the caller may make this call, holding what a model call may cost
        of its budgets until it ends (released in :meth:`_forward`); else why not."""
        assert self.services is not None
        if upstream.key_env and not self._vendor_keys[upstream.name]:
            message = f"the gateway has no key for upstream {upstream.name}: set {upstream.key_env}"
            return Refusal("config", message)
        cost = pricing.Estimate(0.0)
        if body.parsed is not None and routes.kind(api_of(upstream.api), path) == "recorded":
            size = len(body.raw)
            cost = self.prices.estimate(upstream.vendor, body.model, path, body.parsed, size)
        held = self.services.access.admit(key, upstream.vendor, body.model, cost)
        if isinstance(held, Refusal):
            return held
        return Admitted.of(_exchange(headers, body.parsed, upstream, path, key, body.model), held)

    async def _relay(
        self, receive: Receive, send: Send, response: Response, exchange: Exchange, model: bool
    ) -> int:
        """Send the answer on as it comes, rebuilding a recorded one (``model``); one whose
        encoding the gateway cannot undo is refused (it would go unrecorded)."""
        reader = _reader(exchange, response) if model else None
        if isinstance(reader, Refusal):
            return await self._refuse(send, exchange.upstream.api, reader, exchange.upstream.name)
        headers = [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        self._relaying += 1
        self._idle.clear()
        try:
            await self._stream(receive, send, response, exchange, reader)
        finally:
            self._relaying -= 1
            if not self._relaying:
                self._idle.set()
        return response.status

    async def _stream(
        self,
        receive: Receive,
        send: Send,
        response: Response,
        exchange: Exchange,
        reader: _Reader | None,
    ) -> None:
        gone = asyncio.Event()
        watcher = asyncio.ensure_future(_watch(receive, response, gone))
        try:
            held = await self._pump(send, response, exchange, reader)
        except UpstreamError as exc:
            await self._settle(exchange, reader)
            if gone.is_set():
                log.info("the client left: stopped reading %s", exchange.upstream.name)
                return
            log.warning("upstream %s broke off: %s", exchange.upstream.name, self.redact(str(exc)))
            raise
        except asyncio.CancelledError:  # the shutdown grace is over: keep what came, then stop
            await self._settle(exchange, reader)
            raise
        finally:
            watcher.cancel()
        await self._settle(exchange, reader)
        if held is not None:
            await _chunk(send, held)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(
        self, send: Send, response: Response, exchange: Exchange, reader: _Reader | None
    ) -> bytes | None:
        """Forward the body; a streamed answer is spooled before its final event goes out, a
        JSON body's last chunk is held back (returned) until it is; a batch's lines are spooled
        before the chunk after the one they end in goes out (the last one held back too)."""
        held: bytes | None = None
        async for chunk in response.body():
            if reader is None:
                await _chunk(send, chunk)
                continue
            final = reader.feed(chunk)
            if isinstance(reader.parser, batch.Lines):
                await self._spool_lines(exchange, reader)
            if reader.streamed:
                if final:
                    await self._settle(exchange, reader)
                await _chunk(send, chunk)
            else:
                if held is not None:
                    await _chunk(send, held)
                held = chunk
        return held

    async def _settle(self, exchange: Exchange, reader: _Reader | None) -> None:
        """Spool what the reader rebuilt, once; shielded, so that an answer cut at shutdown
        is still kept (a second call waits for the first one's spooling)."""
        if reader is None:
            return
        if reader.capture is None:
            capture = self._capture(exchange, reader.parser, reader.lines)
            reader.capture = asyncio.ensure_future(capture)
        await asyncio.shield(reader.capture)

    async def _spool_lines(self, exchange: Exchange, reader: _Reader) -> None:
        """Spool the batch lines read so far; shielded, like :meth:`_settle`."""
        assert isinstance(reader.parser, batch.Lines)
        items = reader.parser.take()
        if items:
            reader.lines = asyncio.ensure_future(self._record_all(exchange, items))
            await asyncio.shield(reader.lines)

    async def _capture(
        self, exchange: Exchange, parser: Parser, lines: asyncio.Future[None] | None = None
    ) -> None:
        """Spool the answer (fsync'd) before its last event goes out; a batch's last lines
        once ``lines`` (those being spooled when the answer ended) are."""
        if not isinstance(parser, batch.Lines):
            await self._record(exchange, parser.reply())
            return
        if lines is not None:
            await lines
        await self._record_all(exchange, parser.take(final=True))

    async def _record_all(self, exchange: Exchange, items: list[batch.Item]) -> None:
        for item in items:
            await self._record(exchange, item.reply, item.source_id)

    async def _record(self, exchange: Exchange, reply: Reply, source_id: str | None = None) -> None:
        """Spool one output of an answer and count it."""
        assert self.services is not None
        new = to_output(exchange, reply, self.prices, source_id)
        if new is None:
            return
        self.services.access.charge(exchange, new, reply.tokens, self.prices)
        await self.services.spool.append(new)
        name = exchange.upstream.name
        self.metrics.outputs.labels(name).inc()
        if new.unparsed:
            self.metrics.unparsed.labels(name).inc()
        for kind in ("input", "output", "cache_read", "cache_write"):
            count = getattr(reply.tokens, kind)
            if count:
                self.metrics.tokens.labels(name, kind).inc(count)
        if new.cost_usd:
            self.metrics.cost.labels(name).inc(new.cost_usd)
        if not log.isEnabledFor(logging.INFO):
            return
        log.info(
            "captured",
            extra={"output": new.idempotency_key(), "actor": new.actor, "model": new.model,
                   "tool": new.tool, "complete": reply.complete, "cost_usd": new.cost_usd,
                   "source_id": new.source_id, "unparsed": new.unparsed},
        )  # fmt: skip

    async def _refuse(self, send: Send, api: str, refusal: Refusal, upstream: str) -> int:
        """Answer in the vendor's error format, with a log line and a metric."""
        self.metrics.refusals.labels(refusal.kind).inc()
        what = {"upstream": upstream, "kind": refusal.kind, "status": refusal.status,
                "reason": refusal.message}  # fmt: skip
        log.warning("refused", extra=what)
        status, headers, body = refusal.render(api_of(api))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status


class _Reader:
    """A parser fed with decoded bytes; disabled (with a warning) on undecodable data."""

    def __init__(self, parser: Parser, decode: Callable[[bytes], bytes], streamed: bool) -> None:
        self.parser, self._decode, self.streamed = parser, decode, streamed
        self.broken = False
        self.capture: asyncio.Future[None] | None = None
        self.lines: asyncio.Future[None] | None = None  # a batch's lines being spooled

    def feed(self, chunk: bytes) -> bool:
        if self.broken:
            return False
        try:
            return self.parser.feed(self._decode(chunk))
        except Exception as exc:  # a corrupt encoding must not break the client's stream
            log.warning("cannot decode the response for capture: %r", exc)
            self.broken = True
            return False


def _ok(response: Response) -> bool:
    return 200 <= response.status < 300


def _reader(exchange: Exchange, response: Response) -> _Reader | Refusal | None:
    """The reader of a recorded path's successful answer (raw when no parser reads its
    content type, or its JSON is not JSON); a refusal when its encoding cannot be undone;
    None for an error answer (the vendor's, forwarded as it is)."""
    if not _ok(response):
        return None
    headers = {k.lower(): v.decode("latin-1") for k, v in response.headers}
    content_type = headers.get(b"content-type", "").lower()
    decode = decoder_for(headers.get(b"content-encoding", ""))
    if decode is None:
        return _unreadable(response)
    parser = api_of(exchange.upstream.api).parser(exchange.path.rstrip("/"), content_type)
    # Gemini's default stream is a JSON array sent element by element: read as it passes
    streamed = content_type.startswith(STREAMED) or isinstance(parser, gemini.ArrayStream)
    if parser is None:
        parser = raw.Raw()
    elif not streamed and not isinstance(parser, batch.Lines):
        parser = raw.OrRaw(parser)
    return _Reader(parser, decode, streamed and not isinstance(parser, batch.Lines))


def _unreadable(response: Response) -> Refusal:
    headers = {k.lower(): v.decode("latin-1") for k, v in response.headers}
    what = ", ".join(f"{name} {headers.get(name.encode(), '-')!r}"
                     for name in ("content-type", "content-encoding"))  # fmt: skip
    return Refusal("upstream", f"the upstream answered a model call in a form the gateway "
                   f"cannot record ({what}): not forwarded")  # fmt: skip


async def _watch(receive: Receive, response: Response, gone: asyncio.Event) -> None:
    """Stop reading the vendor's answer when the client leaves: nobody would get the rest."""
    message = await receive()
    if message["type"] == "http.disconnect":
        gone.set()
        response.abort()


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
    Accept-Encoding keeps only codings the gateway can decode (it must read what it records)."""
    out = []
    for name, value in raw:
        lower = name.lower()
        if lower in DROP_REQUEST:
            continue
        if lower == b"accept-encoding":
            value = accept_encoding(value)
        out.append((name, value))
    key_header = api_of(upstream.api).key_header
    if vendor_key and key_header is not None:
        out.append(key_header(vendor_key))
    return out


def _query(raw: bytes) -> str:
    """``?query`` as the client sent it, less any ``key`` parameter (a client's key is never
    forwarded; bytes a request line cannot carry raw are escaped)."""
    raw = without_key(raw)
    if not raw:
        return ""
    return "?" + "".join(chr(b) if b in _QUERY_RAW else f"%{b:02X}" for b in raw)


async def _chunk(send: Send, data: bytes) -> None:
    if data:
        await send({"type": "http.response.body", "body": data, "more_body": True})


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
