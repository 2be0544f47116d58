"""How ``distillguard serve`` runs the gateway under uvicorn: limits on slow clients and on
shutdown.

uvicorn has a keep-alive timeout but none for a request's headers: a client that connects and
sends its headers a byte at a time holds a connection for as long as it likes. The protocol
here closes a connection (after a bare ``408``) whose request headers have not all arrived
within ``[gateway] header_timeout_s`` of the connection or of the request's first byte. The
body's own deadline is the app's (:func:`.admission.read_body`). On SIGTERM, answers still
streaming run on for ``[gateway] shutdown_grace_s``; then uvicorn cancels them, and the app
spools what each had received (see ``Gateway.shutdown``).

WebSockets (the Responses API's WebSocket mode, :mod:`.websocket`) run on the ``websockets``
library's sans-I/O implementation, ``permessage-deflate`` on (Codex offers it), a client frame
held to ``[gateway] max_body_mb`` like a request body.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from distillguard.config import GatewayLimits

TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def protocol(header_timeout_s: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a deadline on each request's headers."""

    class HeaderDeadline(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._deadline is None:
                self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._deadline = self.loop.call_later(header_timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()

    return HeaderDeadline


def config(app: Any, limits: GatewayLimits, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration of ``distillguard serve``."""
    return uvicorn.Config(
        app, host=host, port=port, lifespan="on", access_log=False, log_config=None,
        http=protocol(limits.header_timeout_s), loop="auto", timeout_keep_alive=75,
        ws="websockets-sansio", ws_max_size=limits.max_body_bytes, ws_per_message_deflate=True,
        backlog=4096, timeout_graceful_shutdown=max(1, math.ceil(limits.shutdown_grace_s)),
        server_header=False, date_header=False,  # the vendor's own headers pass through
    )  # fmt: skip
