"""The HTTP client to the vendors, behind a small interface (a fake can stand in for tests).

:class:`HttpxUpstream` keeps one pooled ``httpx.AsyncClient`` per upstream and sends exactly the
headers it is given: httpx's default headers (its User-Agent, Accept, Accept-Encoding) are
removed, so the vendor sees what the client sent. Connection failures become
:class:`~distillguard.errors.UpstreamError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import httpx

from distillguard.errors import UpstreamError

Headers = Sequence[tuple[bytes, bytes]]
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 600.0


class Response(Protocol):
    status: int
    headers: list[tuple[bytes, bytes]]

    def body(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive (still content-encoded)."""

    async def close(self) -> None: ...


class Upstream(Protocol):
    async def send(self, method: str, url: str, headers: Headers, body: bytes) -> Response:
        """Send a request; UpstreamError when the vendor cannot be reached."""

    async def close(self) -> None: ...


class _HttpxResponse:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers = list(response.headers.raw)

    async def body(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            raise UpstreamError(f"the upstream broke off the response: {exc!r}") from exc

    async def close(self) -> None:
        await self._response.aclose()


class HttpxUpstream:
    """One pooled HTTP/1.1 client."""

    def __init__(self, max_connections: int = 1000) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S, pool=READ_TIMEOUT_S)
        self._client = httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False)
        for name in list(self._client.headers):
            del self._client.headers[name]

    async def send(self, method: str, url: str, headers: Headers, body: bytes) -> Response:
        request = self._client.build_request(method, url, headers=list(headers), content=body)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamError(f"the upstream timed out: {exc!r}", timeout=True) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"cannot reach the upstream: {exc!r}") from exc
        return _HttpxResponse(response)

    async def close(self) -> None:
        await self._client.aclose()
