"""A scripted cloud upstream (Vertex AI, Bedrock): a real HTTP server that checks how each
request is signed before it answers, like the clouds do.

It reuses the vendor fake's script (queued replies, recorded requests) and its way of sending
(streams event by event); each cloud supplies a router (``vertex_api``, ``bedrock_api``).
Requests keep their raw path (``%3A`` as sent): a signature covers the path as it was sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

import uvicorn

from tests.fakes import script
from tests.fakes.script import Item
from tests.fakes.vendors import (
    DEFAULT_TEXT,
    App,
    Matcher,
    Receive,
    Request,
    Scope,
    Script,
    Send,
    _bind,
    _read_body,
)
from tests.fakes.wire import Rendered


@dataclass(frozen=True)
class CloudRequest(Request):
    """A request with the path exactly as it was sent."""

    raw_path: str = ""


Router = Callable[[CloudRequest], Rendered]


class CloudApp(App):
    """Record, route with ``router``, send."""

    def __init__(self, script_: Script, router: Router) -> None:
        super().__init__(script_)
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = CloudRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode("latin-1"),
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
            body=await _read_body(receive),
            raw_path=scope["raw_path"].decode("latin-1"),
        )
        self.script.record(request)
        await self._send(self.router(request), send)


class CloudUpstream:
    """uvicorn in a background thread; subclasses define :meth:`route`."""

    def __init__(self) -> None:
        self.script = Script(script.text(DEFAULT_TEXT))
        self._sock = _bind("127.0.0.1", 0)
        self.host, self.port = self._sock.getsockname()[:2]
        app = CloudApp(self.script, self.route)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def route(self, request: CloudRequest) -> Rendered:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def enqueue(self, *items: Item, when: Matcher | None = None) -> None:
        self.script.enqueue(items, when)

    def take(self, request: Request) -> Item:
        return self.script.take(request)

    @property
    def pending(self) -> int:
        """How many queued items no request has taken yet."""
        return self.script.pending

    @property
    def requests(self) -> list[CloudRequest]:
        return [r for r in self.script.requests if isinstance(r, CloudRequest)]

    def start(self, timeout: float = 10.0) -> Self:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake cloud upstream did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
