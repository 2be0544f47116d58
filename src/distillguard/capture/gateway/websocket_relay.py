"""One Responses WebSocket, relayed: the client's events to the vendor, the vendor's to the
client, each ``response.create`` admitted and its answer recorded (see :mod:`.websocket`).

A :class:`Link` runs two pumps. Client to vendor: every text frame goes on unaltered, except a
``response.create`` that the gateway cannot read or that the caller may not make now (key,
grant, team rules, budget: admitted as an HTTPS model call is, with a reservation until the
response ends), which is answered with the vendor's ``error`` event instead; one response is in
flight at a time. Vendor to client: each event is fed to the response in flight (a Responses
event stream read frame by frame) and sent on; the output is spooled, and the reservation
released, before the frame holding the final event (``response.completed``/``.incomplete``/
``.failed``, or ``error``) is sent. A response event with none in flight, or a binary frame,
closes both sides (1008): it could not be recorded. When either side leaves, what the response
in flight got is recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from distillguard.capture.gateway import admission
from distillguard.capture.gateway.access import Admitted
from distillguard.capture.gateway.capture import Exchange, session_of, tool_of
from distillguard.capture.gateway.keys import hash_secret
from distillguard.capture.gateway.refusals import Refusal
from distillguard.capture.wire import openai_responses
from distillguard.capture.wire.api import api_of
from distillguard.config import Upstream as UpstreamConfig
from distillguard.model import GatewayKey

if TYPE_CHECKING:
    from distillguard.capture.gateway.app import Gateway

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("distillguard.gateway")
HOP_BY_HOP = frozenset(
    b"connection keep-alive proxy-authenticate proxy-authorization proxy-connection te trailer "
    b"transfer-encoding upgrade".split()
)
#: Handshake headers each hop makes its own.
HANDSHAKE = frozenset(
    b"sec-websocket-key sec-websocket-version sec-websocket-extensions sec-websocket-protocol "
    b"sec-websocket-accept content-length".split()
)
#: Close codes: the gateway's policy (a frame it cannot record), and an upstream that broke off.
POLICY, BROKE_OFF = 1008, 1011
#: Close codes that may not be sent in a close frame (RFC 6455 7.4.1).
UNSENDABLE = frozenset({1005, 1006, 1015})


@dataclass(frozen=True)
class Opened:
    """A handshake the gateway accepts: the upstream, the path after its name, the key."""

    upstream: UpstreamConfig
    path: str
    key: GatewayKey
    secret: str


async def authenticate(gateway: Gateway, secret: str | None) -> GatewayKey | Refusal:
    """The key of ``secret``, looked up in the ledger when it is new since the last refresh."""
    assert gateway.services is not None
    keys = gateway.services.access.keys
    if secret and not keys.known(hash_secret(secret)):
        await asyncio.to_thread(keys.fetch, hash_secret(secret))
    return gateway.services.access.authenticate(secret, datetime.now(UTC))


class _Frames(openai_responses.Stream):
    """The Responses event stream read one WebSocket text frame (one JSON event) at a time."""

    def frame(self, text: str) -> bool:
        """Take one event; True when it is the response's final one."""
        return self._event("message", text)


@dataclass
class _Turn:
    """The response in flight: its admitted exchange and the events read so far."""

    exchange: Admitted
    parser: _Frames = field(default_factory=_Frames)
    capture: asyncio.Future[None] | None = None
    released: bool = False


class Link:
    """One client connection and its upstream WebSocket."""

    def __init__(
        self,
        gateway: Gateway,
        opened: Opened,
        headers: dict[bytes, bytes],
        ws: aiohttp.ClientWebSocketResponse,
        receive: Receive,
        send: Send,
    ) -> None:
        self.gateway, self.upstream, self.path = gateway, opened.upstream, opened.path
        self.headers, self.secret = headers, opened.secret
        self.ws, self.receive, self.send = ws, receive, send
        self.turn: _Turn | None = None
        self.client_gone = False

    async def accept(self) -> None:
        """Accept the client with the vendor's handshake headers (less the hop's own)."""
        response = getattr(self.ws, "_response", None)  # aiohttp keeps the 101 response here
        raw = list(getattr(response, "raw_headers", ()))
        headers = [(k, v) for k, v in raw if k.lower() not in HOP_BY_HOP | HANDSHAKE]
        message: Message = {"type": "websocket.accept", "headers": headers}
        if self.ws.protocol:
            message["subprotocol"] = self.ws.protocol
        await self.send(message)

    async def run(self) -> None:
        """Relay both ways until one side ends; record what the response in flight got."""
        tasks = [asyncio.ensure_future(self._from_client()),
                 asyncio.ensure_future(self._from_upstream())]  # fmt: skip
        try:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self._end_turn()
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await self._end_turn()
            if not self.ws.closed:
                await self.ws.close()

    # --- client -> upstream ------------------------------------------------------------

    async def _from_client(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "websocket.disconnect":
                self.client_gone = True
                log.info("the client left the WebSocket of %s", self.upstream.name)
                return
            text = message.get("text")
            if text is None:
                await self._close_both(POLICY, "binary frames are not part of the Responses "
                                       "API: the gateway cannot judge them")  # fmt: skip
                return
            refusal = await self._judge(text)
            if refusal is not None:
                await self._error_event(refusal)
                continue
            try:
                await self.ws.send_str(text)
            except (ConnectionError, aiohttp.ClientError) as exc:
                log.warning("cannot send to upstream %s: %r", self.upstream.name, exc)
                await self._end_turn()
                await self._close_client(BROKE_OFF, f"upstream {self.upstream.name} broke off")
                return

    async def _judge(self, text: str) -> Refusal | None:
        """Why the client's event may not go to the vendor, if it may not; a ``response.create``
        that may is admitted and becomes the response in flight."""
        raw = text.encode()
        if not _is_create(raw):
            return None
        body = await admission.judge(raw, {}, True)
        if isinstance(body, Refusal):
            return body
        if self.turn is not None:
            return Refusal("bad_request", "a response is still in flight on this WebSocket: "
                           "the gateway relays one at a time")  # fmt: skip
        if body.parsed is not None and "stream_id" in body.parsed:
            return Refusal("bad_request", "stream_id (several responses on one WebSocket) is "
                           "not served through the gateway: open one WebSocket per "
                           "stream")  # fmt: skip
        admitted = await self._admit(body)
        if isinstance(admitted, Refusal):
            return admitted
        self.turn = _Turn(admitted)
        self._busy(1)
        self.gateway.metrics.requests.labels(self.upstream.name, "101").inc()
        return None

    async def _admit(self, body: admission.Body) -> Admitted | Refusal:
        """The exchange when the key may still make this call now, holding what it may cost."""
        gateway = self.gateway
        assert gateway.services is not None
        key = await authenticate(gateway, self.secret)  # revoked or expired since the handshake?
        if isinstance(key, Refusal):
            return key
        assert body.parsed is not None
        cost = gateway.prices.estimate(
            self.upstream.vendor, body.model, self.path, body.parsed, len(body.raw)
        )
        held = gateway.services.access.admit(key, self.upstream.vendor, body.model, cost)
        if isinstance(held, Refusal):
            return held
        agent = self.headers.get(b"user-agent", b"").decode("latin-1")
        session = session_of(self.headers, body.parsed)
        exchange = Exchange(self.upstream, self.path, key, tool_of(agent), session, body.model,
                            body.parsed)  # fmt: skip
        return Admitted.of(exchange, held)

    async def _error_event(self, refusal: Refusal) -> None:
        """Answer a refused event as the vendor answers one: an ``error`` event."""
        self.gateway.metrics.refusals.labels(refusal.kind).inc()
        log.info("refused", extra={"upstream": self.upstream.name, "kind": refusal.kind,
                                   "reason": refusal.message})  # fmt: skip
        error = api_of(self.upstream.api).error(refusal.kind, refusal.status, refusal.message)
        event = {"type": "error", "status": refusal.status, **error.body}
        await self._send_client(orjson.dumps(event).decode())

    # --- upstream -> client ------------------------------------------------------------

    async def _from_upstream(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                if not await self._relay(message.data):
                    return
            elif message.type == aiohttp.WSMsgType.BINARY:
                await self._close_both(POLICY, "the upstream sent a binary frame, which the "
                                       "gateway cannot record: not forwarded")  # fmt: skip
                return
        await self._end_turn()
        if self.client_gone:
            return
        code = self.ws.close_code
        if code is None or code in UNSENDABLE:
            exc = self.ws.exception()
            log.warning("upstream %s broke off the WebSocket: %r", self.upstream.name, exc)
            await self._close_client(BROKE_OFF, f"upstream {self.upstream.name} broke off")
        else:
            await self._close_client(code, "")

    async def _relay(self, text: str) -> bool:
        """Read one event and send it on (a final one after its response is spooled); False
        when the connection must end."""
        turn = self.turn
        if turn is None:
            kind = _kind(text)
            if kind.startswith("response."):
                log.error("upstream %s sent %s outside an admitted response", self.upstream.name,
                          kind)  # fmt: skip
                await self._close_both(POLICY, "the upstream sent a response the gateway did "
                                       "not admit: not forwarded")  # fmt: skip
                return False
        elif turn.parser.frame(text) or _kind(text) == "error":
            await self._end_turn()
        return await self._send_client(text)

    async def _send_client(self, text: str) -> bool:
        """Send one frame to the client; False when it has gone."""
        try:
            await self.send({"type": "websocket.send", "text": text})
        except OSError as exc:  # uvicorn's ClientDisconnected: the client left meanwhile
            log.info("the client left the WebSocket of %s: %r", self.upstream.name, exc)
            self.client_gone = True
            return False
        return True

    # --- the end of a response and of the connection -------------------------------------

    async def _end_turn(self) -> None:
        """Spool what the response in flight got (once, shielded: a cancelled relay still
        keeps it), then release its reservation."""
        turn = self.turn
        if turn is None:
            return
        if turn.capture is None:
            capture = self.gateway._record(turn.exchange, turn.parser.reply())
            turn.capture = asyncio.ensure_future(capture)
        try:
            await asyncio.shield(turn.capture)
        finally:
            if not turn.released:
                turn.released = True
                assert self.gateway.services is not None
                self.gateway.services.access.spend.release(turn.exchange.hold)
                self._busy(-1)
            if self.turn is turn:
                self.turn = None

    def _busy(self, change: int) -> None:
        """Count a response in flight as the gateway counts an HTTP answer being relayed, so
        that shutdown waits for its spooling."""
        gateway = self.gateway
        gateway._relaying += change
        if gateway._relaying:
            gateway._idle.clear()
        else:
            gateway._idle.set()

    async def _close_both(self, code: int, reason: str) -> None:
        log.warning("closing the WebSocket of %s: %s", self.upstream.name, reason)
        await self._end_turn()
        await self.ws.close(code=code, message=reason.encode()[:120])
        await self._close_client(code, reason)

    async def _close_client(self, code: int, reason: str) -> None:
        if self.client_gone:
            return
        self.client_gone = True
        reason = reason.encode()[:120].decode("utf-8", "ignore")
        try:
            await self.send({"type": "websocket.close", "code": code, "reason": reason})
        except OSError as exc:  # the client went at the same moment
            log.info("the client left before the close frame: %r", exc)


def _is_create(raw: bytes) -> bool:
    """Whether a client event is a ``response.create`` (the one event that makes a response);
    an event the gateway cannot read is judged as one, so it is refused, not waved through."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return True
    return not isinstance(event, dict) or event.get("type") == "response.create"


def _kind(text: str) -> str:
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError:
        return ""
    kind = event.get("type") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) else ""
