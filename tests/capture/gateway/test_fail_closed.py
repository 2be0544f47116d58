"""No model text through the gateway without a ledger row (issue 12, "Fail closed"): legacy
completions, batch results, stored responses and answers no parser reads are recorded; batch
bookkeeping is metadata; everything else is refused, with a log line and a metric. The official
SDKs -> a real ``distillguard serve`` -> the scripted upstream (or a vendor that answers oddly)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import anthropic
import httpx
import openai
import pytest

from tests.capture.gateway import raw
from tests.capture.gateway.conftest import Served
from tests.capture.gateway.raw import send
from tests.fakes import script
from tests.fakes.script import Usage
from tests.fakes.vendors import VendorUpstream

configured = raw.configured
CODE = "def area(r):\n    return 3.14159 * r * r\n"


def _openai(gateway: Served, key: str | None = None) -> openai.OpenAI:
    client = openai.OpenAI(base_url=f"{gateway.url}/openai/v1",
                           api_key=key or gateway.keys["ada"], max_retries=0)  # fmt: skip
    return gateway.adopt(client)


def _anthropic(gateway: Served) -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=f"{gateway.url}/anthropic",
                                 api_key=gateway.keys["ada"], max_retries=0)  # fmt: skip
    return gateway.adopt(client)


def _settled(gateway: Served, n: int) -> list[object]:
    """The ledger's outputs after the drain had time to write anything more (exactly ``n``)."""
    time.sleep(1.5)
    return list(gateway.outputs(n))


def test_legacy_completions_are_recorded(gateway: Served, vendor_upstream: VendorUpstream) -> None:
    vendor_upstream.enqueue(
        script.text(CODE, usage=Usage(input_tokens=7, output_tokens=20), id="cmpl-plain"),
        script.text("streamed " + CODE, id="cmpl-streamed"),
    )
    client = _openai(gateway)
    done = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="def area(r):",
                                     max_tokens=50)  # fmt: skip
    assert done.choices[0].text == CODE
    pieces = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt=["def area"], max_tokens=50, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    assert "".join(c.choices[0].text for c in pieces if c.choices) == "streamed " + CODE
    plain, streamed = sorted(gateway.outputs(2), key=lambda o: o.message_id or "")
    assert (plain.message_id, plain.text, plain.request) == ("cmpl-plain", CODE, "def area(r):")
    assert (plain.input_tokens, plain.output_tokens, plain.model) == (
        7,
        20,
        "gpt-3.5-turbo-instruct",
    )
    assert streamed.message_id == "cmpl-streamed" and streamed.text == "streamed " + CODE
    assert streamed.output_tokens == 12 and not streamed.unparsed


def test_anthropic_batch_results_are_recorded_line_by_line(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    write = {"file_path": "/w/area.py", "content": CODE}
    vendor_upstream.enqueue(
        script.text("answer one", id="msg_batch_1"),
        script.error(400, "bad request in a batch"),
        script.tool_call("Write", write, id="msg_batch_3"),
    )
    client = _anthropic(gateway)
    params = {"model": "claude-sonnet-4-6", "max_tokens": 100,
              "messages": [{"role": "user", "content": "write area.py"}]}  # fmt: skip
    requests = [{"custom_id": f"req-{n}", "params": params} for n in (1, 2, 3)]
    batch = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"
    assert [b.id for b in client.messages.batches.list()] == [batch.id]
    # the SDK follows results_url (the vendor's own URL); through the gateway it is this path:
    results = f"{gateway.url}/anthropic/v1/messages/batches/{batch.id}/results"
    key = {"x-api-key": gateway.keys["ada"], "anthropic-version": "2023-06-01"}
    body = httpx.get(results, headers=key).raise_for_status().content
    direct = httpx.get(f"{vendor_upstream.base_url}/v1/messages/batches/{batch.id}/results")
    assert body == direct.content and len(body.splitlines()) == 3
    found = sorted(gateway.outputs(2), key=lambda o: o.source_id or "")
    assert [o.source_id for o in found] == [f"batch:{batch.id}:req-1", f"batch:{batch.id}:req-3"]
    assert [o.message_id for o in found] == ["msg_batch_1", "msg_batch_3"]
    assert [o.text for o in found] == ["answer one", CODE]
    assert found[0].model == "claude-sonnet-4-6" and found[0].output_tokens == 12
    httpx.get(results, headers=key).raise_for_status()  # fetched again: nothing new
    assert len(_settled(gateway, 2)) == 2


def test_openai_batch_output_file_is_recorded(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    vendor_upstream.enqueue(script.text("first", id="chatcmpl-b1"),
                            script.text("second", id="chatcmpl-b2"))  # fmt: skip
    lines = [{"custom_id": f"c{n}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}}
             for n in (1, 2)]  # fmt: skip
    client = _openai(gateway)
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    uploaded = client.files.create(file=("input.jsonl", data), purpose="batch")
    assert client.files.retrieve(uploaded.id).bytes == len(data)
    assert client.files.content(uploaded.id).read() == data  # the input file: no outputs
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")  # fmt: skip
    output = client.batches.retrieve(batch.id).output_file_id
    assert output and [b.id for b in client.batches.list()] == [batch.id]
    content = client.files.content(output).read()
    assert [json.loads(line)["custom_id"] for line in content.splitlines()] == ["c1", "c2"]
    found = sorted(gateway.outputs(2), key=lambda o: o.source_id or "")
    assert [(o.source_id, o.message_id, o.text) for o in found] == [
        (f"batch:{output}:c1", "chatcmpl-b1", "first"),
        (f"batch:{output}:c2", "chatcmpl-b2", "second"),
    ]


def test_a_stored_response_is_recorded_once(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    seen = script.text("an answer seen before", id="resp_seen")
    vendor_upstream.enqueue(seen, seen, script.text("made in the background", id="resp_bg"),
                            script.text("streamed back", id="resp_streamed"))  # fmt: skip
    client = _openai(gateway)
    assert client.responses.create(model="gpt-5", input="x").id == "resp_seen"
    assert len(gateway.outputs(1)) == 1
    assert client.responses.retrieve("resp_seen").output_text == "an answer seen before"
    assert len(_settled(gateway, 1)) == 1  # the same id: merged into the output it is
    assert client.responses.retrieve("resp_bg").output_text == "made in the background"
    events = list(client.responses.retrieve("resp_streamed", stream=True))
    assert events[-1].type == "response.completed"
    found = {o.message_id: o for o in gateway.outputs(3)}
    assert found["resp_bg"].text == "made in the background" and found["resp_bg"].model == "gpt-5"
    assert found["resp_streamed"].text == "streamed back"


class _Odd(BaseHTTPRequestHandler):
    """A vendor behind a proxy that answers model calls as text/plain, ndjson or broken JSON."""

    answers: ClassVar[dict[str, tuple[str, bytes]]] = {
        "/v1/messages": ("text/plain; charset=utf-8", b"raw answer from a proxy: " + CODE.encode()),
        "/v1/chat/completions": ("application/x-ndjson", b'{"delta": "nd"}\n{"delta": "json"}\n'),
        "/v1/responses": ("application/json", b"<html>an error page, 200 OK</html>"),
    }

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        content_type, body = self.answers[self.path.split("?")[0]]
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def odd_vendor() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Odd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_answers_no_parser_reads_are_recorded_raw(
    configured: Callable[..., Served], odd_vendor: str
) -> None:
    served = configured(odd_vendor)
    key = served.keys["ada"]
    calls = [("/anthropic/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 5}),
             ("/openai/v1/chat/completions", {"model": "gpt-4o", "messages": []}),
             ("/openai/v1/responses", {"model": "gpt-5", "input": "x"})]  # fmt: skip
    for path, body in calls:
        answer = send(served, "POST", path, json.dumps(body).encode(), x_api_key=key)
        assert answer.status == 200 and answer.refused is None
        assert answer.body == _Odd.answers[path.split("/", 2)[2].join(["/", ""])][1]
    found = {o.model: o for o in served.outputs(3)}
    assert found["claude-sonnet-4-6"].text == "raw answer from a proxy: " + CODE
    assert found["gpt-4o"].text == '{"delta": "nd"}\n{"delta": "json"}\n'
    assert found["gpt-5"].text == "<html>an error page, 200 OK</html>"
    assert all(o.unparsed for o in found.values())
    metrics = httpx.get(served.url + "/metrics").text
    assert 'distillguard_unparsed_outputs_total{upstream="anthropic"} 1.0' in metrics


def test_refusals_say_why_and_are_logged_and_counted(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        _openai(gateway).embeddings.create(model="text-embedding-3-small", input="x")
    message = info.value.body["message"]  # type: ignore[index]
    assert "POST /v1/embeddings is not served through the gateway" in message
    assert '[upstreams.openai] pass_through = ["/v1/embeddings"]' in message
    answer = httpx.get(f"{gateway.url}/anthropic/v1/files/f1/content",
                       headers={"x-api-key": gateway.keys["ada"]})  # fmt: skip
    assert answer.status_code == 404 and answer.json()["error"]["type"] == "not_found_error"
    assert answer.headers["x-distillguard-refusal"] == "not_found"
    assert vendor_upstream.requests == []
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'distillguard_refusals_total{reason="not_found"} 2.0' in metrics
    logged = [json.loads(line) for line in (gateway.home / "serve.log").read_text().splitlines()
              if line.startswith("{")]  # fmt: skip
    refused = [r for r in logged if r["message"] == "refused"]
    assert [(r["upstream"], r["kind"], r["status"]) for r in refused] == [
        ("openai", "not_found", 404),
        ("anthropic", "not_found", 404),
    ]


def test_a_batch_is_refused_to_a_team_whose_models_are_restricted(
    gateway: Served, vendor_upstream: VendorUpstream
) -> None:
    web = gateway.new_key("bob", "web")  # team web may use gpt-4o* only
    with pytest.raises(openai.PermissionDeniedError, match="cannot see which models"):
        _openai(gateway, key=web).batches.create(
            input_file_id="file-x", endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert vendor_upstream.requests == []
