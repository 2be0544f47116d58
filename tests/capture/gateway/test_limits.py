"""Resource limits of ``distillguard serve``: the key is checked before the body is read, slow
clients time out, ``Expect: 100-continue`` works, shutdown is bounded and a client that leaves
stops the vendor's stream, with what came so far recorded (issue 11)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from distillguard.config import load_settings
from distillguard.errors import ConfigError
from distillguard.ledger import Ledger
from tests.capture.gateway import raw
from tests.capture.gateway.conftest import Served
from tests.fakes import script
from tests.fakes.vendors import VendorUpstream

configured = raw.configured
LIMITS = """
[gateway]
header_timeout_s = 1
body_timeout_s = 1
shutdown_grace_s = 1
"""
LONG = "".join(f"word{i} " for i in range(400))
BODY = json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 5, "stream": True,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()  # fmt: skip


def _head(key: str, *extra: str) -> bytes:
    lines = ["POST /anthropic/v1/messages HTTP/1.1", "Host: gw", f"x-api-key: {key}",
             "content-type: application/json", *extra]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_the_key_is_checked_before_the_body_is_read(gateway: Served) -> None:
    with raw.connect(gateway) as sock:  # a 1 GiB body is announced; none of it is sent
        sock.sendall(_head("dg-forged", f"content-length: {2**30}"))
        answer, seconds = raw.read_until_closed(sock, 5)
    assert answer.startswith(b"HTTP/1.1 401 ") and b"authentication_error" in answer
    assert b"connection: close" in answer and seconds < 4


def test_slow_clients_time_out(
    configured: Callable[..., Served], vendor_upstream: VendorUpstream
) -> None:
    served = configured(vendor_upstream.base_url, LIMITS)
    with raw.connect(served) as sock:  # headers that never end
        sock.sendall(b"POST /anthropic/v1/messages HTTP/1.1\r\nHost: gw\r\n")
        answer, seconds = raw.read_until_closed(sock, 6)
    assert seconds < 4 and answer.startswith(b"HTTP/1.1 408 ")
    with raw.connect(served) as sock:  # a body that never ends
        sock.sendall(_head(served.keys["ada"], "content-length: 100") + b'{"model": ')
        answer, seconds = raw.read_until_closed(sock, 6)
    assert seconds < 4 and answer.startswith(b"HTTP/1.1 408 ")
    assert b'"type":"error"' in answer and b"did not arrive within 1 s" in answer
    assert vendor_upstream.requests == []


def test_expect_100_continue(gateway: Served, vendor_upstream: VendorUpstream) -> None:
    vendor_upstream.enqueue(script.text("continued"))
    head = _head(gateway.keys["ada"], f"content-length: {len(BODY)}", "Expect: 100-continue")
    with raw.connect(gateway) as sock:
        sock.sendall(head)
        sock.settimeout(5)
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(BODY)
        answer = b""
        while b"message_stop" not in answer:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert vendor_upstream.requests[-1].header("expect") is None
    (out,) = gateway.outputs(1)
    assert out.text == "continued"


def _stream_in_thread(
    served: Served, got: list[bytes], leave_after: int | None
) -> threading.Thread:
    def run() -> None:
        headers = {"x-api-key": served.keys["ada"], "content-type": "application/json"}
        try:
            with httpx.stream("POST", served.url + "/anthropic/v1/messages", content=BODY,
                              headers=headers, timeout=30) as response:  # fmt: skip
                for chunk in response.iter_raw():
                    got.append(chunk)
                    if leave_after is not None and len(got) >= leave_after:
                        return  # the client leaves: the connection is closed
        except httpx.HTTPError:
            got.append(b"<cut>")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_shutdown_cuts_streams_after_the_grace_and_keeps_them(
    configured: Callable[..., Served], vendor_upstream: VendorUpstream
) -> None:
    served = configured(vendor_upstream.base_url, LIMITS)
    vendor_upstream.enqueue(script.text(LONG, delay=0.05))  # ~15 s of events
    got: list[bytes] = []
    client = _stream_in_thread(served, got, None)
    assert _wait_for(lambda: len(got) > 3, 10)
    assert served.process is not None
    started = time.monotonic()
    served.process.terminate()
    served.process.wait(timeout=20)
    assert time.monotonic() - started < 6  # 1 s of grace, then cut
    client.join(timeout=5)
    with Ledger(served.db_url) as ledger:  # spooled when cut, moved into the ledger at stop
        (out,) = list(ledger.iter_outputs())
    assert out.text and LONG.startswith(out.text) and len(out.text) < len(LONG)


def test_a_client_that_leaves_stops_the_vendor_stream(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    vendor_upstream.enqueue(script.text(LONG, delay=0.05))  # ~15 s of events
    got: list[bytes] = []
    _stream_in_thread(gateway, got, 12).join(timeout=10)
    started = time.monotonic()
    (out,) = gateway.outputs(1, timeout=5)  # recorded when the client left, not at the end
    assert time.monotonic() - started < 5
    assert out.text and LONG.startswith(out.text) and len(out.text) < len(LONG)


def test_gateway_limits_are_configured_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "distillguard.toml"
    config.write_text(
        '[gateway]\nmax_body_mb = 2\nshutdown_grace_s = 5\npass_through = ["/v1/x"]\n'
    )
    limits = load_settings(config, env={}).gateway_limits
    assert (limits.max_body_bytes, limits.shutdown_grace_s) == (2 * 2**20, 5.0)
    assert limits.pass_through == ("/v1/x",) and limits.header_timeout_s == 10.0
    config.write_text('[gateway]\nmax_body_mb = 0\nbody_timeout_s = "x"\npass_through = "/v1"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, env={})
    for key in ("max_body_mb", "body_timeout_s", "pass_through"):
        assert f"[gateway] {key}:" in str(info.value)
