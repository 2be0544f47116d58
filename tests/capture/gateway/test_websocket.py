"""The Responses API over WebSocket through a real ``distillguard serve``.

The client is the ``websockets`` library's, the upstream the scripted fake's WebSocket mode
(``tests/fakes/openai_ws.py``). Frames must pass unaltered both ways, each ``response.create``
must be admitted like an HTTPS call and its answer recorded, refusals must come in the vendor's
format, and an answer cut by either side must be recorded as far as it came.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from distillguard.ledger import Ledger
from distillguard.model import Output
from tests.capture.gateway.conftest import VENDOR_KEYS, Served
from tests.fakes import script
from tests.fakes.openai_ws import WsVendorUpstream
from tests.fakes.script import Usage
from tests.fakes.vendors import Request

MODEL = "gpt-5"
ANSWER = "def area(r):\n    return 3.14159 * r * r\n"
USAGE = Usage(input_tokens=300, output_tokens=40, cache_read_tokens=1000, reasoning_tokens=7)
SESSION = "0199aaaa-bbbb-7ccc-8ddd-eeeeffff0000"
#: How long ``serve`` may take to start (a loaded machine takes longer than the default 20 s).
START_S = 90.0


@pytest.fixture
def ws_upstream() -> Iterator[WsVendorUpstream]:
    with WsVendorUpstream() as started:
        yield started


@pytest.fixture
def gateway(make_gateway: Callable[..., Served], ws_upstream: WsVendorUpstream) -> Served:
    served: Served = make_gateway(ws_upstream.base_url, start=False)
    served.start(timeout=START_S)
    return served


def _url(served: Served, path: str = "/openai/v1/responses") -> str:
    return served.url.replace("http://", "ws://") + path


def _open(served: Served, key: str, **headers: str) -> ClientConnection:
    head = {"Authorization": f"Bearer {key}", "session-id": SESSION, **headers}
    return connect(_url(served), additional_headers=head, open_timeout=10, max_size=None)


def _create(text: str = "Write area()", **extra: Any) -> str:
    event = {"type": "response.create", "model": MODEL, "input": text, "store": False, **extra}
    return json.dumps(event)


def _until_final(ws: ClientConnection) -> list[str]:
    """Frames up to and including the response's last event (or an error event)."""
    frames: list[str] = []
    while True:
        frame = ws.recv(timeout=10)
        assert isinstance(frame, str)
        frames.append(frame)
        kind = json.loads(frame)["type"]
        if kind in ("response.completed", "response.incomplete", "response.failed", "error"):
            return frames


def _outputs(served: Served, n: int, timeout: float = 10.0) -> list[Output]:
    """The ledger's outputs once there are ``n``; and none appears after them."""
    deadline = time.monotonic() + timeout
    with Ledger(served.db_url) as ledger:
        while ledger.count() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.6)  # one more drain pass: nothing beyond n
        found = list(ledger.iter_outputs())
    assert len(found) == n, f"expected {n} outputs, the ledger has {len(found)}"
    return found


def _handshake(request: Request) -> dict[str, str]:
    """A handshake's headers, less those each hop makes its own and the credential."""
    hop = {"host", "sec-websocket-key", "sec-websocket-extensions", "authorization"}
    return {k: v for k, v in request.headers if k not in hop}


def test_frames_pass_unaltered_and_each_response_is_recorded(
    gateway: Served, ws_upstream: WsVendorUpstream
) -> None:
    agent = {"user-agent": "codex_exec/0.169.0", "openai-beta": "responses_websockets=2026-02-06"}
    head = {"Authorization": "Bearer sk-direct", "session-id": SESSION, **agent}
    with connect(ws_upstream.ws_url, additional_headers=head, open_timeout=10) as direct:
        vendor_headers = dict(direct.response.headers)
    ws_upstream.enqueue(script.text(ANSWER, usage=USAGE, id="resp_ws_1"))
    ws_upstream.enqueue(script.text("Second answer.", id="resp_ws_2"))
    with _open(gateway, gateway.keys["ada"], **agent) as ws:
        served_headers = dict(ws.response.headers)
        ws.send(_create())
        first = _until_final(ws)
        ws.send(json.dumps({"type": "response.processed", "response_id": "resp_ws_1"}))
        ws.send(_create("And another", previous_response_id="resp_ws_1"))
        second = _until_final(ws)

    events = [json.loads(f) for f in first]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == ANSWER
    assert json.loads(second[-1])["response"]["id"] == "resp_ws_2"
    # the vendor got the client's events as sent, with its own key and never the gateway's
    sent = [m.body.decode() for m in ws_upstream.ws_messages]
    assert sent[0] == _create() and json.loads(sent[1])["type"] == "response.processed"
    plain, handshake = ws_upstream.handshakes
    assert _handshake(handshake) == _handshake(plain)  # nothing added, nothing lost
    assert handshake.header("authorization") == "Bearer " + VENDOR_KEYS["OPENAI_API_KEY"]
    # and the vendor's handshake answer comes back with its headers
    for name in ("x-request-id", "openai-organization", "openai-version"):
        assert served_headers[name] and vendor_headers[name]
    assert gateway.keys["ada"] not in str(handshake.headers)
    assert ws_upstream.model_calls == []

    one, two = sorted(_outputs(gateway, 2), key=lambda o: o.message_id or "")
    assert (one.message_id, one.text, one.model) == ("resp_ws_1", ANSWER, MODEL)
    assert (one.tool, one.session, one.actor, one.team) == ("codex", SESSION, "ada", "ml")
    assert (one.input_tokens, one.cache_read_tokens, one.output_tokens) == (300, 1000, 40)
    assert one.request == "Write area()"
    assert (two.message_id, two.text) == ("resp_ws_2", "Second answer.")


def _first_frame(gateway: Served, key: str) -> None:
    with _open(gateway, key) as ws:
        ws.recv(timeout=5)


def test_a_bad_key_is_refused_at_the_handshake(
    gateway: Served, ws_upstream: WsVendorUpstream
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        _first_frame(gateway, "dg-not-a-key")
    response = refused.value.response
    assert response.status_code == 401
    error = json.loads(response.body or b"")["error"]
    assert error["message"] == "invalid distillguard key"
    assert error["code"] == "invalid_api_key"
    assert ws_upstream.handshakes == []


def test_other_paths_are_not_upgraded(gateway: Served, ws_upstream: WsVendorUpstream) -> None:
    for path in ("/openai/v1/chat/completions", "/anthropic/v1/messages", "/nowhere/v1/responses"):
        head = {"Authorization": f"Bearer {gateway.keys['ada']}"}
        with pytest.raises(InvalidStatus) as refused:
            connect(_url(gateway, path), additional_headers=head, open_timeout=10).close()
        assert refused.value.response.status_code == 404, path
    assert ws_upstream.handshakes == []


def test_a_create_outside_the_grant_gets_an_error_event(
    gateway: Served, ws_upstream: WsVendorUpstream
) -> None:
    key = gateway.new_key("wes", "web")  # team web: models gpt-4o* only
    with _open(gateway, key) as ws:
        ws.send(_create())
        (frame,) = _until_final(ws)
        ws.send(_create().replace(MODEL, "gpt-4o"))
        answered = _until_final(ws)
    event = json.loads(frame)
    assert (event["type"], event["status"]) == ("error", 403)
    assert "may not use model gpt-5" in event["error"]["message"]
    assert json.loads(answered[-1])["type"] == "response.completed"
    assert [json.loads(m.body)["model"] for m in ws_upstream.ws_messages] == ["gpt-4o"]
    assert len(_outputs(gateway, 1)) == 1


def test_an_unreadable_event_is_refused_not_forwarded(
    gateway: Served, ws_upstream: WsVendorUpstream
) -> None:
    with _open(gateway, gateway.keys["ada"]) as ws:
        ws.send('{"type": "response.create", "model": "gpt-5", "model": "gpt-4o"}')
        (frame,) = _until_final(ws)
    event = json.loads(frame)
    assert (event["type"], event["status"]) == ("error", 400)
    assert "appears twice" in event["error"]["message"]
    assert ws_upstream.ws_messages == []


def test_a_client_that_leaves_mid_answer_is_recorded_as_far_as_it_came(
    gateway: Served, ws_upstream: WsVendorUpstream
) -> None:
    long = "word " * 200
    ws_upstream.enqueue(script.text(long, id="resp_left", delay=0.02))
    with _open(gateway, gateway.keys["ada"]) as ws:
        ws.send(_create())
        got = [json.loads(ws.recv(timeout=10)) for _ in range(12)]
    assert got[-1]["type"] == "response.output_text.delta"
    (output,) = _outputs(gateway, 1)
    assert output.message_id == "resp_left"
    assert output.text and long.startswith(output.text)
    assert 0 < len(output.text) < len(long.strip())


def test_an_upstream_cut_is_recorded_and_closes_the_client(
    gateway: Served, ws_upstream: WsVendorUpstream
) -> None:
    ws_upstream.enqueue(script.text(ANSWER, id="resp_cut", cut_after=8))
    frames: list[str] = []
    with _open(gateway, gateway.keys["ada"]) as ws:
        ws.send(_create())
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frame = ws.recv(timeout=10)
                assert isinstance(frame, str)
                frames.append(frame)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert len(frames) == 8
    (output,) = _outputs(gateway, 1)
    assert output.message_id == "resp_cut"
    assert output.text and ANSWER.startswith(output.text)


def test_the_budget_is_checked_at_each_response(
    gateway: Served, ws_upstream: WsVendorUpstream
) -> None:
    key = gateway.new_key("bo", "broke")  # team broke: a budget one call spends
    ws_upstream.enqueue(script.text(ANSWER, usage=USAGE, id="resp_paid"))
    with _open(gateway, key) as ws:
        ws.send(_create())
        first = _until_final(ws)
        ws.send(_create("Once more"))
        (second,) = _until_final(ws)
    assert json.loads(first[-1])["type"] == "response.completed"
    event = json.loads(second)
    assert (event["type"], event["status"]) == ("error", 429)
    assert "budget of team broke is spent" in event["error"]["message"]
    assert len(ws_upstream.ws_creates) == 1
    (output,) = _outputs(gateway, 1)
    assert output.message_id == "resp_paid"


def test_an_answer_cut_by_shutdown_is_recorded(
    gateway: Served, ws_upstream: WsVendorUpstream
) -> None:
    long = "line of text\n" * 100
    ws_upstream.enqueue(script.text(long, id="resp_shutdown", delay=0.05))
    with _open(gateway, gateway.keys["ada"]) as ws:
        ws.send(_create())
        for _ in range(6):
            ws.recv(timeout=10)
        gateway.stop()  # SIGTERM, and wait for the process to end
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=10)
    with Ledger(gateway.db_url) as ledger:
        found = list(ledger.iter_outputs())
    spooled = gateway.home / "spool"
    assert [o.message_id for o in found] == ["resp_shutdown"], list(spooled.iterdir())
    if found:
        assert found[0].text and long.startswith(found[0].text)


def test_the_vendors_refusal_of_the_handshake_comes_back_with_its_status(
    gateway: Served, ws_upstream: WsVendorUpstream
) -> None:
    ws_upstream.refuse_websockets(404, "no WebSocket mode here")
    with pytest.raises(InvalidStatus) as refused:
        _first_frame(gateway, gateway.keys["ada"])
    assert refused.value.response.status_code == 404  # a client falls back to HTTPS on it
    error = json.loads(refused.value.response.body or b"")["error"]
    assert "upstream openai refused the WebSocket: 404" in error["message"]
    assert len(ws_upstream.handshakes) == 1


def test_a_key_in_the_query_is_read_and_not_forwarded(
    gateway: Served, ws_upstream: WsVendorUpstream
) -> None:
    url = _url(gateway) + f"?key={gateway.keys['ada']}&trace=1"
    with connect(url, open_timeout=10) as ws:
        ws.send(_create())
        assert json.loads(_until_final(ws)[-1])["type"] == "response.completed"
    (handshake,) = ws_upstream.handshakes
    assert handshake.query == "trace=1"
    assert handshake.header("authorization") == "Bearer " + VENDOR_KEYS["OPENAI_API_KEY"]
