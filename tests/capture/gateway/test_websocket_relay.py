"""The WebSocket relay's order of work, on the fake vendor's own frames (no servers).

A stand-in gateway logs what ``Link`` asks of it (spool a reply, release a hold) in one list
with what it sends the client, so the test sees that a response is spooled before its final
event goes out, and that nothing the gateway did not admit is sent on.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson

from distillguard.capture.gateway.access import Admitted
from distillguard.capture.gateway.capture import Exchange
from distillguard.capture.gateway.spend import Hold
from distillguard.capture.gateway.websocket_relay import Link, Opened, _Turn
from distillguard.capture.wire import Reply
from distillguard.config import Upstream
from distillguard.model import GatewayKey
from tests.fakes import script
from tests.fakes.openai_ws import frames

UPSTREAM = Upstream("openai", "openai", "http://vendor.test", "OPENAI_API_KEY", "openai")
KEY = GatewayKey("key_1", "sha256:x", "ada", "ml", "boss", datetime(2026, 1, 1, tzinfo=UTC))
REQUEST = {"type": "response.create", "model": "gpt-5", "input": "Say it"}


class Stand:
    """What ``Link`` uses of the gateway, the upstream socket and the client, logging each."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self._relaying = 0
        self._idle = asyncio.Event()
        release = lambda hold: self.log.append(("release", hold.id))  # noqa: E731
        self.services = SimpleNamespace(
            access=SimpleNamespace(spend=SimpleNamespace(release=release))
        )

    async def _record(self, exchange: Exchange, reply: Reply) -> None:
        await asyncio.sleep(0.01)  # a spool write takes time: the final frame must wait for it
        self.log.append(("spooled", (reply.message_id, reply.text, reply.complete)))

    async def send(self, message: dict[str, Any]) -> None:
        self.log.append((message["type"], message.get("text") or message.get("code")))

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        self.log.append(("upstream.close", code))

    closed = False

    async def receive(self) -> dict[str, Any]:
        raise AssertionError("the relay of upstream frames reads nothing from the client")


def _link(stand: Stand, in_flight: bool = True) -> Link:
    opened = Opened(UPSTREAM, "/v1/responses", KEY, "dg-secret")
    link = Link(stand, opened, {}, stand, stand.receive, stand.send)  # type: ignore[arg-type]
    if in_flight:
        exchange = Exchange(UPSTREAM, "/v1/responses", KEY, "codex", None, "gpt-5", REQUEST)
        link.turn = _Turn(Admitted.of(exchange, Hold("h1", 0.5)))
        stand._relaying = 1  # as admission counts it
    return link


def _kinds(log: list[tuple[str, Any]]) -> list[str]:
    out = []
    for what, value in log:
        if what == "websocket.send":
            out.append(orjson.loads(value)["type"])
        else:
            out.append(what)
    return out


def test_the_answer_is_spooled_before_its_final_event_is_sent() -> None:
    stand = Stand()
    link = _link(stand)
    texts, _, _ = frames(script.text("Hello there.", id="resp_1"), REQUEST)

    async def relay() -> list[bool]:
        return [await link._relay(text) for text in texts]

    assert all(asyncio.run(relay()))
    kinds = _kinds(stand.log)
    assert kinds[-3:] == ["spooled", "release", "response.completed"]
    assert kinds.count("spooled") == kinds.count("release") == 1
    assert stand.log[-3][1] == ("resp_1", "Hello there.", True)
    assert [t for w, t in stand.log if w == "websocket.send"] == texts  # unaltered, in order
    assert link.turn is None and stand._relaying == 0


def test_an_error_event_ends_the_response_in_flight() -> None:
    stand = Stand()
    link = _link(stand)
    (text,), _, _ = frames(script.error(429, "slow down"), REQUEST)
    assert asyncio.run(link._relay(text))
    assert _kinds(stand.log) == ["spooled", "release", "error"]
    assert link.turn is None


def test_a_response_the_gateway_did_not_admit_ends_the_connection() -> None:
    stand = Stand()
    link = _link(stand, in_flight=False)
    texts, _, _ = frames(script.text("Unasked."), REQUEST)
    assert asyncio.run(link._relay(texts[0])) is False
    assert stand.log == [("upstream.close", 1008), ("websocket.close", 1008)]


def test_other_events_between_responses_pass() -> None:
    stand = Stand()
    link = _link(stand, in_flight=False)
    text = '{"type":"codex.rate_limits","primary":{"used_percent":3}}'
    assert asyncio.run(link._relay(text))
    assert stand.log == [("websocket.send", text)]
