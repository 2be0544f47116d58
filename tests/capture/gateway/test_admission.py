"""Admission against odd input: every spelling of a path is routed as the vendor reads it, a
body the gateway cannot judge is refused, only readable encodings are asked for, and no secret
leaks (issue 11, "Gateway: admission and capture"). Real ``distillguard serve`` processes in
front of the scripted upstream, requests sent byte for byte."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from distillguard.capture.gateway import routes
from distillguard.capture.gateway.decode import accept_encoding
from distillguard.capture.gateway.redact import Redactor, url_passwords
from distillguard.capture.gateway.refusals import Refusal
from distillguard.capture.wire.api import api_of
from tests.capture.gateway import raw
from tests.capture.gateway.conftest import Served, free_port
from tests.capture.gateway.raw import send
from tests.fakes.vendors import MODEL_PATHS, VendorUpstream

configured = raw.configured
BODY = {"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
        "input": "hi"}  # fmt: skip
RECORDED_OR_REFUSED = [
    "/anthropic/v1/%6Dessages",
    "/anthropic/v1/./messages",
    "/anthropic/v1/x/../messages",
    "/anthropic/v1/messages/%2e",
    "/anthropic/v1/messages/.",
    "/anthropic/v1/%2e/messages",
    "/anthropic/v1/%2E%2E/v1/messages",
    "/anthropic//v1//messages",
    "/%61nthropic/v1/messages",
    "/anthropic/../openai/v1/responses",
    "/openai/v1/chat/%63ompletions",
    "/openai/v1/chat/x/%2e%2e/completions",
    "/openai/v1/chat/completions/%2E",
    "/openai/v1/responses/x/..",
    "/openai/v1/%72esponses",
    "/openai/v1/%72esponses?x=%2e%2e",
    "/anthropic/v1/messages%2f",
    "/anthropic/v1/messages;x",
    "/anthropic/v1/mess%25ages",
    "/anthropic/v1/..%5c/v1/messages",
    "/anthropic/../../v1/messages",
    "/anthropic/v1/Messages",
]


def test_paths_normalise_to_one_form() -> None:
    assert routes.normalise(b"/anthropic/v1/%6Dessages") == "/anthropic/v1/messages"
    assert routes.normalise(b"/a/v1/x/../%2e/messages/%2E") == "/a/v1/messages/"
    assert routes.normalise(b"/a//b/%7e%41%2a") == "/a/b/~A%2A"
    assert routes.normalise(b"/a/caf\xc3\xa9") == "/a/caf%C3%A9"
    for bad in (b"/a/%2e%2e/%2e%2e/x", b"/a/b%2Fc", b"/a/b;c", b"/a/%5c", b"/a/%zz", b"/a/%00"):
        assert isinstance(routes.normalise(bad), Refusal), bad
    assert routes.kind(api_of("anthropic"), "/v1/messages/batches", method="POST") == "metadata"
    assert routes.kind(api_of("openai"), "/v1/batches/b_1/results", method="GET") == "refused"
    assert routes.kind(api_of("openai"), "/v1/embeddings") == "refused"
    assert routes.kind(api_of("openai"), "/v1/embeddings", ["/v1/embeddings"]) == "allowed"
    assert routes.kind(api_of("anthropic"), "/v1/messages/count_tokens") == "metadata"


@pytest.mark.parametrize("target", RECORDED_OR_REFUSED)
def test_every_spelling_of_a_model_call_is_recorded_or_refused(
    gateway: Served, vendor_upstream: VendorUpstream, target: str
) -> None:
    before = len(vendor_upstream.requests)
    answer = send(gateway, "POST", target, json.dumps(BODY).encode(),
                  x_api_key=gateway.keys["ada"], content_type="application/json")  # fmt: skip
    reached = vendor_upstream.requests[before:]
    if answer.refused:
        assert not reached and answer.status in (400, 404)
        return
    assert len(reached) == 1
    if answer.status != 200:  # the vendor said no to the normalised path: nothing to record
        assert reached[0].path not in MODEL_PATHS
        return
    assert reached[0].path in MODEL_PATHS
    (out,) = gateway.outputs(1)
    assert out.message_id == json.loads(answer.body)["id"]


def test_a_base_path_cannot_be_escaped(
    configured: Callable[..., Served],
    vendor_upstream: VendorUpstream,
) -> None:
    extra = f"""
[upstreams.proxied]
api = "openai"
base_url = "{vendor_upstream.base_url}/base"
key_env = "OPENAI_API_KEY"
vendor = "openai"
"""
    served = configured(vendor_upstream.base_url, extra)
    key = served.keys["ada"]
    for target in ("/proxied/%2e%2e/v1/models", "/proxied/v1/%2e%2e/%2e%2e/%2E%2E/v1/models",
                   "/proxied/..%2f..%2fv1/models", "/proxied/v1/../../../v1/models"):  # fmt: skip
        answer = send(served, "GET", target, x_api_key=key)
        assert answer.refused in ("bad_request", "not_found"), target
    assert vendor_upstream.requests == []
    ok = send(served, "GET", "/proxied/v1/./models", x_api_key=key)
    assert not ok.refused, ok.body
    assert [r.path for r in vendor_upstream.requests] == ["/base/v1/models"]


def _chat(model: str = "gpt-5") -> bytes:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"model": "gpt-5", "messages": [{"role": "user", "content": "\\ud800"}]}', {}),
        (b"\xef\xbb\xbf" + _chat(), {}),
        (gzip.compress(_chat()), {"content_encoding": "gzip"}),
        (b'{"model": "gpt-4o", "model": "gpt-5", "messages": []}', {}),
        (b'{"model": "gpt-5", "model": "gpt-4o", "messages": []}', {}),
        (b'{"m\\u006fdel": "gpt-5", "model": "gpt-4o", "messages": []}', {}),
        (b'{"model": ["gpt-5"], "messages": []}', {}),
        (b'{"model": {"id": "gpt-5"}, "messages": []}', {}),
        (b'{"messages": [], "temperature": NaN, "model": "gpt-5"}', {}),
        (b'{"messages": []}', {}),
        (b'[{"model": "gpt-5"}]', {}),
        (b"\xff" + _chat(), {}),
        (b"", {}),
    ],
)
def test_bodies_the_gateway_cannot_judge_are_refused(
    gateway: Served, vendor_upstream: VendorUpstream, body: bytes, headers: dict[str, str]
) -> None:
    """Team web may use gpt-4o* only: each body hides gpt-5 from a lenient reading."""
    web = gateway.new_key("bob", "web")
    chat, bearer = "/openai/v1/chat/completions", f"Bearer {web}"
    answer = send(gateway, "POST", chat, body, authorization=bearer,
                  content_type="application/json", **headers)  # fmt: skip
    assert answer.status == 400 and answer.refused == "bad_request"
    assert set(json.loads(answer.body)["error"]) == {"message", "type", "param", "code"}
    assert vendor_upstream.requests == []
    allowed = send(gateway, "POST", "/openai/v1/chat/completions", _chat("gpt-4o"),
                   authorization=f"Bearer {web}", content_type="application/json")  # fmt: skip
    assert allowed.status == 200 and gateway.outputs(1)


def test_batch_paths_off_the_list_are_refused_in_the_vendors_format(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    """Batches are served (issue 12: bookkeeping is metadata, results are recorded); a batch
    path that is neither is refused like any other."""
    key = gateway.keys["ada"]
    path = "/anthropic/v1/messages/batches/b_1/results/a"
    answer = send(gateway, "GET", path, x_api_key=key)
    assert answer.status == 404 and json.loads(answer.body)["type"] == "error"
    answer = send(gateway, "DELETE", "/openai/v1/batches/b_1", x_api_key=key)
    assert answer.refused == "not_found" and json.loads(answer.body)["error"]["code"]
    assert vendor_upstream.requests == []


def test_a_body_over_the_limit_is_413_before_it_is_all_read(
    configured: Callable[..., Served], vendor_upstream: VendorUpstream
) -> None:
    served = configured(vendor_upstream.base_url, "\n[gateway]\nmax_body_mb = 0.0625\n")
    head = (f"POST /openai/v1/responses HTTP/1.1\r\nHost: gw\r\nx-api-key: {served.keys['ada']}"
            "\r\ncontent-type: application/json\r\n")  # fmt: skip
    with raw.connect(served) as sock:  # declared too large: refused before any byte is read
        sock.sendall(f"{head}content-length: {2**30}\r\n\r\n".encode())
        answer, _ = raw.read_until_closed(sock, 5)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"request_too_large" in answer
    chunk = b"x" * (2**16 + 1)  # chunked: read up to the limit, then refused
    with raw.connect(served) as sock:
        sock.sendall(f"{head}transfer-encoding: chunked\r\n\r\n".encode()
                     + b"%x\r\n%s\r\n" % (len(chunk), chunk))  # fmt: skip
        answer, _ = raw.read_until_closed(sock, 5)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer
    assert vendor_upstream.requests == []


@pytest.mark.parametrize(
    ("offered", "sent"),
    [
        (b"br", b"identity"),
        (b"BR", b"identity"),
        (b"br;q=1.0", b"identity"),
        (b"gzip, br;q=1.0, deflate", b"gzip, deflate"),
        (b"Gzip;q=0.5 , Br , ZSTD", b"Gzip;q=0.5, ZSTD"),
        (b"*", b"identity"),
        (b"gzip, *;q=0.1", b"gzip"),
        (b"identity", b"identity"),
    ],
)
def test_accept_encoding_keeps_only_what_the_recorder_reads(offered: bytes, sent: bytes) -> None:
    assert accept_encoding(offered) == sent


def test_the_vendor_is_asked_for_readable_encodings_only(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    send(gateway, "POST", "/anthropic/v1/messages", json.dumps(BODY).encode(),
         x_api_key=gateway.keys["ada"], accept_encoding="BR;q=1.0, gzip")  # fmt: skip
    assert vendor_upstream.requests[-1].header("accept-encoding") == "gzip"
    assert gateway.outputs(1)


class _Brotli(BaseHTTPRequestHandler):
    """A vendor that answers in brotli whatever it is asked for."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        body = b"\x8b\x02\x80not-really-brotli\x03"
        self.send_response(200)
        for name, value in (("content-type", "application/json"), ("content-encoding", "br"),
                            ("content-length", str(len(body)))):  # fmt: skip
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def brotli_vendor() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Brotli)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_the_recorder_cannot_read_is_not_forwarded(
    configured: Callable[..., Served],
    brotli_vendor: str,
) -> None:
    served = configured(brotli_vendor)
    answer = send(served, "POST", "/anthropic/v1/messages", json.dumps(BODY).encode(),
                  x_api_key=served.keys["ada"])  # fmt: skip
    assert answer.status == 502 and answer.refused == "upstream"
    assert b"not-really-brotli" not in answer.body


def test_secrets_stay_out_of_healthz_502s_and_logs(
    configured: Callable[..., Served],
    vendor_upstream: VendorUpstream,
) -> None:
    extra = f"""
[upstreams.basic]
api = "anthropic"
base_url = "http://gwuser:BasePassw0rd@127.0.0.1:{free_port()}"
vendor = "anthropic"
"""
    served = configured(vendor_upstream.base_url, extra)
    send(served, "POST", "/anthropic/v1/messages", json.dumps(BODY).encode(),
         x_api_key=served.keys["ada"])  # fmt: skip
    served.outputs(1)
    answer = send(served, "POST", "/basic/v1/messages", json.dumps(BODY).encode(),
                  x_api_key=served.keys["ada"])  # fmt: skip
    assert answer.status == 502 and b"BasePassw0rd" not in answer.body
    assert b"gwuser:***@" in answer.body
    served.stop()  # the same home (keys.json) with a ledger that is down and has a password
    served.env["DISTILLGUARD_DB"] = (
        f"postgresql+psycopg://dg:UrlPassw0rd@127.0.0.1:{free_port()}/test?password=QueryPassw0rd"
    )
    served.start()
    send(served, "POST", "/anthropic/v1/messages", json.dumps(BODY).encode(),
         x_api_key=served.keys["ada"])  # fmt: skip
    health = httpx.get(served.url + "/healthz").json()
    for _ in range(100):
        if health["ledger_error"]:
            break
        time.sleep(0.1)
        health = httpx.get(served.url + "/healthz", timeout=5).json()
    assert health["ledger_error"] and "cannot" in health["ledger_error"]
    served.stop()
    said = json.dumps(health) + (served.home / "serve.log").read_text()
    assert "password=***" in said
    for secret in ("UrlPassw0rd", "QueryPassw0rd", "BasePassw0rd", "sk-ant-vendor-secret"):
        assert secret not in said


def test_the_redactor_masks_url_passwords_and_known_secrets() -> None:
    url = "postgresql+psycopg://dg:p%40ss@db/x?sslmode=require&password=Qq1234"
    assert set(url_passwords(url)) == {"p%40ss", "p@ss", "Qq1234"}
    redact = Redactor([*url_passwords(url), "sk-ant-secret"])
    said = redact(f"cannot open {url} - auth failed for p@ss; key sk-ant-secret; http://u:v@h/")
    assert said == ("cannot open postgresql+psycopg://dg:***@db/x?sslmode=require&password=*** - "
                    "auth failed for ***; key ***; http://u:***@h/")  # fmt: skip
