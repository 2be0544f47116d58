"""Capture never stops: absurd usage, a model that is not a string, a full disk.

Each test drives a real ``distillguard serve`` (its own process) in front of a real upstream:
the scripted vendor, or a raw server sending bodies no real vendor would.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from distillguard.capture.gateway.spool import decode
from distillguard.ledger import Ledger
from distillguard.model import MAX_TOKENS
from tests.capture.gateway.conftest import Served
from tests.capture.gateway.raw import fill
from tests.fakes import script
from tests.fakes.script import Usage
from tests.fakes.vendors import VendorUpstream

QUESTION = [{"role": "user", "content": "Say something."}]


def _ask_anthropic(served: Served, stream: bool, timeout: float = 15.0) -> httpx.Response:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 50, "messages": QUESTION, "stream": stream}
    headers = {"x-api-key": served.keys["ada"], "anthropic-version": "2023-06-01"}
    return httpx.post(
        served.url + "/anthropic/v1/messages", json=body, headers=headers, timeout=timeout
    )


def _ask_chat(served: Served, timeout: float = 15.0) -> httpx.Response:
    body = {"model": "gpt-4o", "messages": QUESTION}
    headers = {"authorization": f"Bearer {served.keys['ada']}"}
    url = served.url + "/openai/v1/chat/completions"
    return httpx.post(url, json=body, headers=headers, timeout=timeout)


def _complete(response: httpx.Response, stream: bool) -> bool:
    """Whether an Anthropic answer came whole (its last event, or its whole body)."""
    if response.status_code != 200:
        return False
    if stream:
        return response.text.endswith('event: message_stop\ndata: {"type":"message_stop"}\n\n')
    return response.json()["stop_reason"] == "end_turn"


def _health(served: Served) -> dict[str, Any]:
    health: dict[str, Any] = httpx.get(served.url + "/healthz", timeout=5).json()
    return health


# --- odd usage from the scripted vendor ----------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_absurd_token_counts_are_clamped_and_capture_goes_on(
    gateway: Served, vendor_upstream: VendorUpstream, stream: bool
) -> None:
    """2^63 input tokens raised OverflowError in the SQLite drain, which died silently."""
    vendor_upstream.enqueue(
        script.text("An answer with absurd usage.", usage=Usage(input_tokens=2**63)),
        script.text("A normal answer after it."),
    )
    assert _complete(_ask_anthropic(gateway, stream), stream)
    assert _complete(_ask_anthropic(gateway, stream), stream)
    odd, normal = gateway.outputs(2)
    assert (odd.text, odd.input_tokens) == ("An answer with absurd usage.", MAX_TOKENS)
    assert odd.cost_usd is not None and odd.cost_usd > 1000  # priced as counted, not free
    assert normal.text == "A normal answer after it." and normal.input_tokens == 25
    health = _health(gateway)
    assert health["ledger_error"] is None and health["rejected"] == 0 and health["spooled"] == 0


def test_negative_token_counts_do_not_cut_the_answer(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    """A negative count raised in the Prometheus counter, before the last bytes were sent."""
    vendor_upstream.enqueue(
        script.text("Negative usage.", usage=Usage(output_tokens=-3, reasoning_tokens=-1))
    )
    answer = _ask_chat(gateway)
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == "Negative usage."
    (output,) = gateway.outputs(1)
    assert output.text == "Negative usage."
    assert (output.output_tokens, output.reasoning_tokens, output.input_tokens) == (None, None, 25)


@pytest.mark.postgres
def test_a_record_the_ledger_refuses_is_set_aside_and_shown_in_health(
    make_gateway: Callable[..., Served], vendor_upstream: VendorUpstream, pg_url: str
) -> None:
    """PostgreSQL cannot store a NUL: that output is kept aside, counted, and the next one
    is recorded."""
    served = make_gateway(vendor_upstream.base_url, db_url=pg_url)
    vendor_upstream.enqueue(script.text("A NUL \x00 in it."), script.text("The next answer."))
    assert _complete(_ask_anthropic(served, stream=False), stream=False)
    assert _complete(_ask_anthropic(served, stream=True), stream=True)
    deadline = time.monotonic() + 15
    while _health(served)["spooled"] and time.monotonic() < deadline:
        time.sleep(0.05)
    health = _health(served)
    assert (health["spooled"], health["rejected"], health["ledger_error"]) == (0, 1, None)
    assert [o.text for o in served.outputs(1)] == ["The next answer."]
    kept = (served.home / "spool" / "rejected.log").read_bytes().splitlines(keepends=True)
    assert [decode(line).text for line in kept] == ["A NUL \x00 in it."]  # type: ignore[union-attr]


# --- bodies no vendor sends, from a raw upstream -------------------------------------------------


class RawUpstream:
    """Answers every request with ``body`` (JSON), served by uvicorn in a thread."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = json.dumps(body).encode()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(self._app, log_level="warning", lifespan="off", interface="asgi3")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        head = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": self.body})

    def __enter__(self) -> RawUpstream:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


ODD_MESSAGE = {
    "id": 123,
    "type": "message",
    "role": "assistant",
    "model": {"name": "claude-sonnet-4-6"},
    "content": [{"type": "text", "text": "An answer whose model is not a string."}],
    "usage": {"input_tokens": -7, "output_tokens": 2**64 + 5},
}


def test_a_model_that_is_not_a_string_does_not_cut_the_answer(
    make_gateway: Callable[..., Served],
) -> None:
    """A dict as ``model`` raised TypeError in pricing: the client never got the last bytes."""
    with RawUpstream(ODD_MESSAGE) as upstream:
        served = make_gateway(upstream.base_url)
        answer = _ask_anthropic(served, stream=False)
        assert answer.status_code == 200
        assert answer.content == json.dumps(ODD_MESSAGE).encode()  # unaltered
        (output,) = served.outputs(1)
    assert output.text == "An answer whose model is not a string."
    assert output.model == "claude-sonnet-4-6"  # the model the client asked for
    assert output.message_id is None  # 123 is not a message id: keyed by content instead
    # -7 and 2**64 + 5 are not counts: the usage is unknown, so it is estimated from the text
    # (38 bytes / 4, rounded up) and flagged so, never the vendor's values
    assert output.usage_estimated
    assert output.output_tokens == 10
    assert output.input_tokens is not None and output.input_tokens > 0
    assert _health(served)["rejected"] == 0


# --- a full disk under the spool ------------------------------------------------------------


def _fails_quickly(ask: Callable[[], httpx.Response]) -> None:
    """The call fails (the answer cut, or an error) rather than hang."""
    try:
        response = ask()
    except httpx.TimeoutException:
        pytest.fail("the model call hangs: the spool writer is gone")
    except httpx.HTTPError:
        return  # the connection was cut before the last bytes: the client knows
    assert not _complete(response, stream=True)


def test_a_full_disk_fails_calls_then_capture_recovers_and_sigterm_stops(
    make_gateway: Callable[..., Served],
    vendor_upstream: VendorUpstream,
    small_disk: Path,
) -> None:
    served = make_gateway(vendor_upstream.base_url, start=False)
    spool = served.home / "spool"
    spool.symlink_to(small_disk, target_is_directory=True)
    served.start()
    long = "Long answer. " * 400  # 5 KB: it needs pages the full disk does not have
    vendor_upstream.enqueue(script.text("Before the disk filled."))
    assert _complete(_ask_anthropic(served, stream=True), stream=True)
    filler = fill(small_disk)
    for _ in range(3):  # the drain rotates the spool in between
        vendor_upstream.enqueue(script.text(long))
        _fails_quickly(lambda: _ask_anthropic(served, stream=True, timeout=10))
        time.sleep(0.6)
    full = _health(served)
    assert full["ok"] is False and "No space left" in (full["spool_error"] or "")
    filler.unlink()  # space is back
    vendor_upstream.enqueue(script.text(long))
    assert _complete(_ask_anthropic(served, stream=True, timeout=10), stream=True)
    texts = [o.text for o in served.outputs(2)]
    assert texts == ["Before the disk filled.", long]
    health = _health(served)
    assert health["ok"] is True and health["spool_error"] is None
    assert health["ledger_error"] is None and health["spooled"] == 0
    assert served.process is not None
    served.process.send_signal(signal.SIGTERM)
    try:
        served.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        served.process.kill()
        pytest.fail("SIGTERM does not stop the gateway")
    with Ledger(served.db_url) as ledger:
        assert ledger.count() == 2
