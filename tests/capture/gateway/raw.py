"""Helpers for the hardening tests: a gateway with extra config, and HTTP sent byte for byte
(httpx would normalise the very paths and headers these tests need to send as written)."""

from __future__ import annotations

import errno
import http.client
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.capture.gateway.conftest import Served


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def refused(self) -> str | None:
        """The gateway's refusal kind, or None when the answer is the vendor's."""
        return self.headers.get("x-distillguard-refusal")


def send(served: Served, method: str, target: str, body: bytes = b"", **headers: str) -> Answer:
    """One request with ``target`` as written (no normalisation, no added encodings)."""
    host, port = served.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"{host}:{port}")
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def connect(served: Served) -> socket.socket:
    host, port = served.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and how long that took."""
    sock.settimeout(timeout)
    started, data = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pass
    return data, time.monotonic() - started


@pytest.fixture
def configured(make_gateway: Callable[..., Served]) -> Callable[..., Served]:
    """``configured(upstream_url, extra_toml, db_url=None, start=True)``: a gateway as
    ``make_gateway`` makes it, with ``extra_toml`` appended to its config."""

    def make(
        upstream_url: str, extra: str = "", db_url: str | None = None, start: bool = True
    ) -> Served:
        return make_gateway(upstream_url, db_url=db_url, start=start, extra=extra)

    return make


def fill(disk: Path) -> Path:
    """Fill ``disk`` with one file; its path (delete it to free the space)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler
