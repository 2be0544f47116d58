"""A scripted vendor upstream: a real HTTP server speaking the Anthropic and OpenAI APIs.

    with VendorUpstream() as up:                     # or the ``vendor_upstream`` fixture
        up.enqueue(script.tool_call("Write", {"file_path": "a.py", "content": "x = 1\\n"}))
        up.enqueue(script.text("Done."))
        client = anthropic.Anthropic(base_url=up.base_url, api_key="k")
        ...
        assert up.requests[0].json()["model"] == "claude-sonnet-4-5"

Routes (on ``base_url``, no prefix):
  POST /v1/messages[?beta=true]     Anthropic Messages, streamed when the body says so
  POST /v1/messages/count_tokens    {"input_tokens": N}
  POST /v1/chat/completions         OpenAI Chat Completions (stream_options.include_usage honoured)
  POST /v1/responses                OpenAI Responses
  GET  /v1/models                   Anthropic's list when the request has ``anthropic-version``,
                                    else OpenAI's
  POST /v1beta/models/M:generateContent, :streamGenerateContent[?alt=sse], :countTokens,
  GET  /v1beta/models               Google Gemini (``gemini_api``; ``/v1/`` too)
  POST /v1/completions              OpenAI legacy Completions
  Message Batches, OpenAI batches and files, stored answers, more metadata: see ``endpoints``
Anything else: 404 in the caller's error format (200 with model text holding
``script.store.canary`` when one is set: the API-surface test).

Each model call takes the first queued item whose ``when`` accepts the request (FIFO), or the
default reply when none does. Every request is recorded (method, path, query, headers, body).
Run standalone: ``python -m tests.fakes.vendors --port 8089 [--text T] [--delay S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

import pytest
import uvicorn

from tests.fakes import anthropic_api as anthropic
from tests.fakes import (
    endpoints,
    openai_chat,
    openai_common,
    openai_completions,
    openai_responses,
    script,
)
from tests.fakes import gemini_api as gemini
from tests.fakes.script import Failure, Item
from tests.fakes.wire import Rendered, json_response

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Matcher = Callable[["Request"], bool]
DEFAULT_TEXT = "This is a scripted answer from the fake vendor upstream."
MODEL_PATHS = ("/v1/messages", "/v1/chat/completions", "/v1/responses", "/v1/completions")


@dataclass(frozen=True)
class Request:
    """One request as the upstream received it (header names lower-cased)."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def is_model_call(self) -> bool:
        return self.method == "POST" and (self.path in MODEL_PATHS or gemini.is_call(self.path))


@dataclass
class _Queued:
    item: Item
    when: Matcher | None


class Script:
    """The queue of scripted items and the record of requests (thread-safe)."""

    def __init__(self, default: Item) -> None:
        self.default = default
        self.store = endpoints.Store()  # batches, files, the canary
        self._lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._requests: list[Request] = []

    def enqueue(self, items: tuple[Item, ...], when: Matcher | None) -> None:
        with self._lock:
            self._queue.extend(_Queued(item, when) for item in items)

    def record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def take(self, request: Request) -> Item:
        with self._lock:
            for index, queued in enumerate(self._queue):
                if queued.when is None or queued.when(request):
                    return self._queue.pop(index).item
        return self.default

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)


def _model(request: Request, fallback: str) -> str:
    body = request.json()
    return str(body.get("model") or fallback) if isinstance(body, dict) else fallback


def render(item: Item, request: Request) -> Rendered:
    """``item`` in the wire format of ``request`` (a model call)."""
    if gemini.is_call(request.path):
        return gemini.render(item, request.path, request.query, request.json())
    body = request.json()
    streamed = bool(body.get("stream"))
    if request.path == "/v1/messages":
        model = _model(request, "claude-sonnet-4-6")
        if isinstance(item, Failure):
            return anthropic.error(item, streamed, model)
        return anthropic.stream(item, model) if streamed else anthropic.message(item, model)
    model = _model(request, "gpt-5")
    if request.path == "/v1/completions":
        return openai_completions.render(item, model, body)
    if request.path == "/v1/chat/completions":
        if isinstance(item, Failure):
            return openai_chat.error(item, streamed, model)
        if not streamed:
            return openai_chat.completion(item, model)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return openai_chat.stream(item, model, include_usage)
    if isinstance(item, Failure):
        return openai_responses.error(item, streamed, model, body)
    if streamed:
        return openai_responses.stream(item, model, body)
    return openai_responses.body(item, model, body)


def _not_found(request: Request) -> Rendered:
    if gemini.is_gemini(request.path):
        return gemini.not_found(request.method, request.path)
    failure = script.error(404, f"Not found: {request.method} {request.path}")
    if request.header("anthropic-version") or request.header("x-api-key"):
        return anthropic.error(failure, False, "")
    return json_response(404, openai_common.error_body(failure), openai_common.headers())


def route(script_: Script, request: Request) -> Rendered:
    if request.is_model_call:
        return render(script_.take(request), request)
    fetched = endpoints.route(script_.store, script_.take, request)
    if fetched is not None:
        return fetched
    if request.method == "POST" and request.path == "/v1/messages/count_tokens":
        return anthropic.count_tokens(request.body)
    if request.method == "GET" and request.path == "/v1/models":
        return anthropic.models() if request.header("anthropic-version") else openai_common.models()
    found = gemini.metadata(request.method, request.path, request.body)
    found = found or endpoints.canary(script_.store, request)
    return _not_found(request) if found is None else found


class App:
    """The ASGI application: record, route, send (streams event by event)."""

    def __init__(self, script_: Script, delay: float = 0.0) -> None:
        self.script = script_
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode("latin-1"),
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
            body=await _read_body(receive),
        )
        self.script.record(request)
        try:
            rendered = route(self.script, request)
        except (ValueError, AttributeError) as exc:  # malformed body: 400 in a neutral format
            failure = script.error(400, f"Bad request: {exc}")
            rendered = anthropic.error(failure, False, "")
        await self._send(rendered, send)

    async def _send(self, rendered: Rendered, send: Send) -> None:
        delay = rendered.delay or self.delay
        head = [(k.encode(), v.encode()) for k, v in rendered.headers]
        if not rendered.stream:
            if delay:
                await asyncio.sleep(delay)
            await send({"type": "http.response.start", "status": rendered.status, "headers": head})
            await send({"type": "http.response.body", "body": rendered.body})
            return
        await send({"type": "http.response.start", "status": rendered.status, "headers": head})
        for count, event in enumerate(rendered.events):
            if rendered.cut_after is not None and count >= rendered.cut_after:
                return  # never complete the response: the server drops the connection
            if delay:
                await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


class VendorUpstream:
    """The fake upstream served by uvicorn in a background thread.

    ``default``: what a model call gets when nothing queued matches (a short text answer).
    ``delay``: seconds before each stream event (and before a plain body), for replies that
    set none themselves.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default: Item | None = None,
        delay: float = 0.0,
    ) -> None:
        self.script = Script(default or script.text(DEFAULT_TEXT))
        self._sock = _bind(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            App(self.script, delay), log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """The origin, e.g. ``http://127.0.0.1:41234`` (append ``/v1`` for OpenAI clients)."""
        return f"http://{self.host}:{self.port}"

    def enqueue(self, *items: Item, when: Matcher | None = None) -> None:
        """Queue answers for the next model calls (those ``when`` accepts, if given)."""
        self.script.enqueue(items, when)

    @property
    def requests(self) -> list[Request]:
        """Every request received so far, in order."""
        return self.script.requests

    @property
    def model_calls(self) -> list[Request]:
        return [r for r in self.requests if r.is_model_call]

    @property
    def pending(self) -> int:
        """How many queued items no request has taken yet."""
        return self.script.pending

    def start(self, timeout: float = 10.0) -> Self:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake vendor upstream did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the standalone server)."""
        self._server.run(sockets=[self._sock])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def vendor_upstream() -> Iterator[VendorUpstream]:
    """A started :class:`VendorUpstream`, stopped after the test."""
    with VendorUpstream() as upstream:
        yield upstream


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.vendors", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--text", default=DEFAULT_TEXT, help="the answer to every model call")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each event")
    args = parser.parse_args(argv)
    default = script.text(args.text, delay=args.delay)
    upstream = VendorUpstream(args.host, args.port, default=default)
    print(f"fake vendor upstream on {upstream.base_url}", flush=True)
    upstream.serve_forever()


if __name__ == "__main__":
    main()
