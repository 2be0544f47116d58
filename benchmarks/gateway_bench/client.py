"""A lean HTTP/1.1 streaming client for load: one keep-alive connection per virtual client.

httpx spends more CPU per request than the gateway it measures, so the load generator speaks
HTTP/1.1 itself on asyncio streams: it writes the request, reads the status line and headers,
then the body (chunked or Content-Length) and notes the time of the first body byte (TTFB, the
first SSE event) and of the last (total). A response counts as *complete* only when its body
holds the API's final event (Anthropic ``message_stop``, chat ``[DONE]``, Responses
``response.completed``, Gemini the chunk that carries ``finishReason``: its SSE stream has no
terminal event and closes after it); the message id the client saw is taken from the first
event (Gemini: its ``responseId``, the same in every chunk of one answer).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

FINAL = {
    "anthropic": b"event: message_stop",
    "chat": b"data: [DONE]",
    "responses": b'"type":"response.completed"',
    "gemini": b'"finishReason"',
}
PATHS = {
    "anthropic": "/v1/messages",
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "gemini": "/v1beta/models/{model}:streamGenerateContent?alt=sse",
}
MODELS = {
    "anthropic": "claude-sonnet-4-5",
    "chat": "gpt-4o-mini",
    "responses": "gpt-4o-mini",
    "gemini": "gemini-2.5-flash",
}
ID = re.compile(rb'"id"\s*:\s*"([^"]+)"')
GEMINI_ID = re.compile(rb'"responseId"\s*:\s*"([^"]+)"')
PROMPT = "Write one line."


def request_body(api: str, model: str | None = None) -> bytes:
    """A small streaming request of ``api``."""
    name = model or MODELS[api]
    if api == "anthropic":
        body = {
            "model": name,
            "max_tokens": 256,
            "stream": True,
            "messages": [{"role": "user", "content": PROMPT}],
        }
    elif api == "gemini":  # the model is in the path
        body = {
            "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
            "generationConfig": {"maxOutputTokens": 256},
        }
    elif api == "chat":
        body = {
            "model": name,
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": PROMPT}],
        }
    else:
        body = {"model": name, "stream": True, "input": PROMPT}
    return orjson.dumps(body)


@dataclass(frozen=True)
class Target:
    """Where and what to send: ``prefix`` is the path before ``/v1/...`` (``/anthropic``);
    ``model`` replaces the API's default (for Gemini, in the path)."""

    host: str
    port: int
    api: str
    prefix: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    model: str | None = None

    def request(self) -> bytes:
        body = request_body(self.api, self.model)
        path = PATHS[self.api].format(model=self.model or MODELS[self.api])
        lines = [
            f"POST {self.prefix}{path} HTTP/1.1",
            f"host: {self.host}:{self.port}",
            "content-type: application/json",
            "accept: text/event-stream",
            f"content-length: {len(body)}",
        ]
        if self.api == "anthropic":
            lines.append("anthropic-version: 2023-06-01")
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Sample:
    """One request: seconds from sending to the first and to the last body byte."""

    start: float
    ttfb: float
    total: float
    status: int
    complete: bool
    message_id: str | None
    error: str | None = None


def _message_id(body: bytes, api: str) -> str | None:
    match = (GEMINI_ID if api == "gemini" else ID).search(body, 0, 2048)
    return match.group(1).decode() if match else None


class Broken(Exception):
    """The connection failed or closed mid-response."""


async def _read_response(
    reader: asyncio.StreamReader, sent: float, parts: list[bytes]
) -> tuple[int, bytes, float, bool]:
    """Status, body, time of the first body byte, and whether the connection stays open.
    ``parts`` gets the body pieces of a 200 as they come (kept when the connection breaks)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    keep = b"connection: close" not in lower
    first = 0.0
    if status != 200:
        parts = []
    if b"transfer-encoding: chunked" in lower:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            data = await reader.readexactly(size + 2)
            if not first:
                first = time.perf_counter()
            if size == 0:
                break
            parts.append(data[:-2])
    else:
        match = re.search(rb"content-length:\s*(\d+)", lower)
        if match is None:  # read to EOF
            data = await reader.read()
            keep = False
        else:
            data = await reader.readexactly(int(match.group(1)))
        first = time.perf_counter()
        parts.append(data)
    return status, b"".join(parts), (first or time.perf_counter()) - sent, keep


@dataclass
class Connection:
    """One virtual client's keep-alive connection (reopened after a failure)."""

    target: Target
    timeout: float = 30.0
    _streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    _request: bytes = field(default=b"", init=False)

    def __post_init__(self) -> None:
        self._request = self.target.request()

    async def send(self) -> Sample:
        """One request. A response whose final event arrived counts as complete even when the
        connection broke after it (the client has the whole answer)."""
        start = time.perf_counter()
        parts: list[bytes] = []
        try:
            return await asyncio.wait_for(self._send(start, parts), self.timeout)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
            TimeoutError,
            Broken,
        ) as exc:
            self.close()
            now = time.perf_counter() - start
            body = b"".join(parts)
            complete = FINAL[self.target.api] in body
            status = 200 if parts else 0
            return Sample(
                start,
                now,
                now,
                status,
                complete,
                _message_id(body, self.target.api),
                f"{type(exc).__name__}{' after the final event' if complete else ''}",
            )

    async def _send(self, start: float, parts: list[bytes]) -> Sample:
        if self._streams is None:
            self._streams = await asyncio.open_connection(
                self.target.host, self.target.port, limit=1 << 20
            )
        reader, writer = self._streams
        writer.write(self._request)
        status, body, ttfb, keep = await _read_response(reader, start, parts)
        total = time.perf_counter() - start
        if not keep:
            self.close()
        complete = status == 200 and FINAL[self.target.api] in body
        error = None if complete else f"status {status}" if status != 200 else "incomplete"
        return Sample(
            start, ttfb, total, status, complete, _message_id(body, self.target.api), error
        )

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def closed_loop(
    target: Target,
    concurrency: int,
    keep_going: Callable[[], bool],
    on_sample: Callable[[Sample], None],
    *,
    pause_after_error: float = 0.0,
    timeout: float = 30.0,
    stagger: float = 0.0,
) -> None:
    """``concurrency`` clients, each sending its next request as soon as the last one ends,
    while ``keep_going()``; client ``i`` starts after ``stagger * i / concurrency`` seconds."""

    async def client(index: int) -> None:
        conn = Connection(target, timeout)
        if stagger:  # spread the clients' phases, as independent users' calls are
            await asyncio.sleep(stagger * index / concurrency)
        try:
            while keep_going():
                sample = await conn.send()
                on_sample(sample)
                if sample.error and pause_after_error:
                    await asyncio.sleep(pause_after_error)
        finally:
            conn.close()

    await asyncio.gather(*(client(i) for i in range(concurrency)))
