"""The OpenAI Responses API's WebSocket mode, on the scripted upstream.

    with WsVendorUpstream() as up:          # a VendorUpstream that also upgrades /v1/responses
        up.enqueue(script.text("Hi"))
        ...                                  # ws://host:port/v1/responses, Bearer key
        up.handshakes[0].header("authorization"), up.ws_messages[0].json()["type"]

The wire, as the vendor speaks it and Codex 0.169.0 reads it: the client opens
``GET /v1/responses`` with ``Upgrade: websocket`` (no subprotocol) and sends JSON text frames,
``{"type": "response.create", ...the POST /v1/responses body...}``, one per response. The server
answers each with the very events its SSE stream carries (``openai_responses.events``: the same
objects, ``sequence_number`` from 0), one JSON object per text frame, the last
``response.completed``. ``"generate": false`` (a warm-up) gets ``response.created`` and
``response.completed`` with no output. A scripted error is the vendor's ``error`` event,
``{"type": "error", "status": N, "error": {...}}``; ``mid_stream`` ends in ``response.failed``;
``cut_after=N`` closes the socket (1011) after N events. Other client events
(``response.processed``) are recorded and not answered. Any other path's handshake gets a 404;
``refuse_websockets(status, message)`` refuses every handshake (a server without the mode).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import orjson
import uvicorn

from tests.fakes import openai_common, openai_responses
from tests.fakes.script import Failure, Item, Reply, Usage
from tests.fakes.vendors import App, Receive, Request, Scope, Send, VendorUpstream
from tests.fakes.wire import dumps

PATH = "/v1/responses"
CUT = 1011


class Sockets:
    """What the WebSocket side received: handshakes and client events (thread-safe)."""

    def __init__(self) -> None:
        #: When set, every handshake is refused with it (a server without WebSocket mode).
        self.refusal: Failure | None = None
        self._lock = threading.Lock()
        self._handshakes: list[Request] = []
        self._messages: list[Request] = []

    def handshake(self, request: Request) -> None:
        with self._lock:
            self._handshakes.append(request)

    def message(self, request: Request) -> None:
        with self._lock:
            self._messages.append(request)

    @property
    def handshakes(self) -> list[Request]:
        with self._lock:
            return list(self._handshakes)

    @property
    def messages(self) -> list[Request]:
        with self._lock:
            return list(self._messages)


def frames(item: Item, request: dict[str, Any]) -> tuple[list[str], int | None, float]:
    """The text frames answering ``response.create`` ``request``, where to cut, the delay."""
    model = str(request.get("model") or "gpt-5")
    if request.get("generate") is False:
        warmup = Reply(blocks=(), usage=Usage(output_tokens=0))
        return _texts(openai_responses.events(warmup, model, request)), None, 0.0
    if isinstance(item, Failure):
        if item.mid_stream:
            rendered = openai_responses.error(item, True, model, request)
            return _texts(list(rendered.events)), None, 0.0
        detail = openai_common.error_body(item)
        return [dumps({"type": "error", "status": item.status, **detail})], None, 0.0
    return _texts(openai_responses.events(item, model, request)), item.cut_after, item.delay


def _texts(events: list[bytes]) -> list[str]:
    """The JSON of each SSE event (its ``data:`` line), as a WebSocket frame carries it."""
    out = []
    for event in events:
        for line in event.decode().split("\n"):
            if line.startswith("data: "):
                out.append(line.removeprefix("data: "))
    return out


class WsApp:
    """The HTTP fake, plus the WebSocket mode of ``/v1/responses``."""

    def __init__(self, http: App, sockets: Sockets) -> None:
        self.http, self.sockets = http, sockets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.http(scope, receive, send)
            return
        handshake = _request(scope, "GET", b"")
        self.sockets.handshake(handshake)
        await receive()  # websocket.connect
        if scope["path"] != PATH:
            await _refuse(send, Failure(404, message=f"Not found: GET {scope['path']}"))
            return
        if self.sockets.refusal is not None:
            await _refuse(send, self.sockets.refusal)
            return
        head = [(k.encode(), v.encode()) for k, v in openai_common.headers()]
        await send({"type": "websocket.accept", "headers": head})
        await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or (message.get("bytes") or b"").decode()
            request = _request(scope, "WS", text.encode())
            self.sockets.message(request)
            event = request.json()
            if not isinstance(event, dict) or event.get("type") != "response.create":
                continue
            warmup = event.get("generate") is False
            item = self.http.script.default if warmup else self.http.script.take(request)
            texts, cut_after, delay = frames(item, event)
            if not await self._answer(texts, cut_after, delay or self.http.delay, send):
                return

    async def _answer(
        self, texts: list[str], cut_after: int | None, delay: float, send: Send
    ) -> bool:
        """Send the frames; False when the script cut the connection."""
        for count, text in enumerate(texts):
            if cut_after is not None and count >= cut_after:
                await send({"type": "websocket.close", "code": CUT, "reason": "cut"})
                return False
            if delay:
                await asyncio.sleep(delay)
            await send({"type": "websocket.send", "text": text})
        return True


async def _refuse(send: Send, failure: Failure) -> None:
    """Answer the handshake with an HTTP error in OpenAI's format."""
    body = orjson.dumps(openai_common.error_body(failure))
    head = [(b"content-type", b"application/json")]
    await send({"type": "websocket.http.response.start", "status": failure.status, "headers": head})
    await send({"type": "websocket.http.response.body", "body": body})


def _request(scope: Scope, method: str, body: bytes) -> Request:
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
    query = scope["query_string"].decode("latin-1")
    return Request(method, scope["path"], query, headers, body)


class WsVendorUpstream(VendorUpstream):
    """:class:`VendorUpstream` that also serves the Responses API's WebSocket mode.

    ``handshakes``: every WebSocket handshake (method ``GET``, no body); ``ws_messages``: every
    client event (method ``WS``, the frame as ``body``), in order. ``requests`` and
    ``model_calls`` stay the HTTP ones, so a test can tell WebSocket from HTTPS traffic.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, delay: float = 0.0) -> None:
        super().__init__(host, port, delay=delay)
        self.sockets = Sockets()
        app = WsApp(App(self.script, delay), self.sockets)
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, ws="websockets-sansio"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def refuse_websockets(self, status: int, message: str) -> None:
        """Refuse every handshake from now on with ``status`` (HTTP stays served)."""
        self.sockets.refusal = Failure(status, message=message)

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{PATH}"

    @property
    def handshakes(self) -> list[Request]:
        return self.sockets.handshakes

    @property
    def ws_messages(self) -> list[Request]:
        return self.sockets.messages

    @property
    def ws_creates(self) -> list[Request]:
        """The ``response.create`` events received (warm-ups included)."""
        return [m for m in self.ws_messages if (m.json() or {}).get("type") == "response.create"]
