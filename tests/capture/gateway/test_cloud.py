# ruff: noqa: F811  (pytest fixtures imported from tests.capture.gateway.cloud)
"""Claude on Vertex AI and on Bedrock through a real ``distillguard serve``: clients send their
distillguard key, the gateway signs upstream (a service account's OAuth token; SigV4, checked by
the fakes), relays the answers unchanged and records them; refusals in each cloud's format."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

import httpx
import pytest
from anthropic import AnthropicBedrock, AnthropicVertex
from botocore.eventstream import EventStreamBuffer

from tests.capture.gateway.cloud import bedrock, serve_cloud, vertex  # noqa: F401
from tests.capture.gateway.conftest import Served
from tests.fakes import bedrock_api, script
from tests.fakes.bedrock_api import BedrockUpstream
from tests.fakes.script import Reply, Text, ToolCall, Usage
from tests.fakes.vertex_api import VertexUpstream

VERTEX_MODEL = "claude-sonnet-4-5@20250929"
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
RECORDED_MODEL = "claude-sonnet-4-5-20250929"  # what both clouds name in the message
VERTEX_CALLS = "/vertex/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/"
BEDROCK_CALLS = f"/bedrock/model/{quote(BEDROCK_MODEL, safe='')}/"
USAGE = Usage(input_tokens=120, output_tokens=45, cache_read_tokens=800, cache_write_tokens=60)
CODE = "def area(r):\n    return 3.14159 * r * r\n"
MESSAGES = [{"role": "user", "content": "Write area()."}]


@pytest.fixture
def gateway(serve_cloud: Callable[..., Served]) -> Served:
    return serve_cloud()


def answer(text: str, id: str) -> Reply:
    call = ToolCall("Write", {"file_path": "geo.py", "content": CODE})
    return Reply(blocks=(Text(text), call), usage=USAGE, id=id)


def check_recorded(gateway: Served, n: int, ids: tuple[str, ...], upstream: str) -> None:
    outputs = sorted(gateway.outputs(n), key=lambda o: ids.index(o.message_id or ""))
    for output, id in zip(outputs, ids, strict=True):
        assert output.message_id == id
        assert CODE in (output.text or "")
        assert (output.vendor, output.model, output.upstream) == (
            "anthropic", RECORDED_MODEL, upstream)  # fmt: skip
        assert (output.actor, output.team, output.tool) == ("ada", "ml", "sdk")
        assert (output.input_tokens, output.output_tokens) == (120, 45)
        assert (output.cache_read_tokens, output.cache_write_tokens) == (800, 60)
        assert output.cost_usd is not None and output.cost_usd > 0
        assert output.request == "Write area()."


# --- Vertex ----------------------------------------------------------------------------------


def vertex_client(gateway: Served, key: str) -> AnthropicVertex:
    client = AnthropicVertex(region="us-east5", project_id="proj-1", access_token=key,
                             base_url=gateway.url + "/vertex/v1", max_retries=0)  # fmt: skip
    return gateway.adopt(client)


def test_vertex_answers_are_signed_relayed_and_recorded(
    gateway: Served, vertex: VertexUpstream
) -> None:
    vertex.enqueue(answer("Streamed.", "msg_vrtx_01A"), answer("Whole.", "msg_vrtx_01B"))
    client = vertex_client(gateway, gateway.keys["ada"])
    with client.messages.stream(model=VERTEX_MODEL, max_tokens=200, messages=MESSAGES) as stream:
        streamed = stream.get_final_message()
    whole = client.messages.create(model=VERTEX_MODEL, max_tokens=200, messages=MESSAGES)
    assert (streamed.id, whole.id) == ("msg_vrtx_01A", "msg_vrtx_01B")
    assert streamed.content[0].text == "Streamed." and whole.content[0].text == "Whole."  # type: ignore[union-attr]

    calls = vertex.model_calls
    assert [c.path.rsplit(":", 1)[1] for c in calls] == ["streamRawPredict", "rawPredict"]
    assert len(vertex.token_requests) == 1  # the token is kept for the next call
    for call in calls:
        assert (call.header("authorization") or "").removeprefix("Bearer ") in vertex.issued
        assert gateway.keys["ada"] not in f"{call.headers}{call.body!r}"
    check_recorded(gateway, 2, ("msg_vrtx_01A", "msg_vrtx_01B"), "vertex")


def test_vertex_token_counting_is_served_unrecorded(
    gateway: Served, vertex: VertexUpstream
) -> None:
    body = {"model": VERTEX_MODEL, "messages": MESSAGES, "anthropic_version": "vertex-2023-10-16"}
    done = httpx.post(gateway.url + VERTEX_CALLS + "count-tokens:rawPredict", json=body,
                      headers={"authorization": "Bearer " + gateway.keys["ada"]})  # fmt: skip
    assert done.status_code == 200 and "input_tokens" in done.json()
    assert len(vertex.token_requests) == 1
    gateway.outputs(0)


@pytest.mark.parametrize(
    ("path", "key", "status", "google_status"),
    [
        (VERTEX_CALLS.replace("anthropic", "google") + "gemini-2.5-pro:generateContent", True,
         404, "NOT_FOUND"),
        (VERTEX_CALLS + "claude-x:predict", True, 404, "NOT_FOUND"),
        (VERTEX_CALLS + VERTEX_MODEL + ":rawPredict", False, 401, "UNAUTHENTICATED"),
    ],
)  # fmt: skip
def test_vertex_refusals_are_in_googles_format(
    gateway: Served, vertex: VertexUpstream, path: str, key: bool, status: int, google_status: str
) -> None:
    headers = {"authorization": "Bearer " + gateway.keys["ada"]} if key else {}
    done = httpx.post(gateway.url + path, json={"anthropic_version": "vertex-2023-10-16",
                      "max_tokens": 5, "messages": MESSAGES}, headers=headers)  # fmt: skip
    assert done.status_code == status
    error = done.json()["error"]
    assert (error["code"], error["status"]) == (status, google_status)
    assert not vertex.requests  # nothing reached Google, not even the token endpoint


def test_a_failing_token_endpoint_is_a_502_in_googles_format(
    gateway: Served, vertex: VertexUpstream
) -> None:
    vertex.token_status = 503
    client = vertex_client(gateway, gateway.keys["ada"])
    done = client.messages.with_raw_response
    with pytest.raises(Exception) as failed:  # the SDK's APIStatusError
        done.create(model=VERTEX_MODEL, max_tokens=5, messages=MESSAGES)
    response = failed.value.response  # type: ignore[attr-defined]
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["status"] == "UNAVAILABLE"
    assert "cannot get a Google access token for upstream vertex" in error["message"]
    assert not vertex.model_calls and vertex.token_requests  # google-auth retries a 503


# --- Bedrock ---------------------------------------------------------------------------------


def bedrock_client(gateway: Served) -> AnthropicBedrock:
    client = AnthropicBedrock(api_key=gateway.keys["ada"], aws_region="us-east-1",
                              base_url=gateway.url + "/bedrock", max_retries=0)  # fmt: skip
    return gateway.adopt(client)


def test_bedrock_answers_are_signed_relayed_and_recorded(
    gateway: Served, bedrock: BedrockUpstream
) -> None:
    bedrock.enqueue(answer("Streamed.", "msg_bdrk_01A"), answer("Whole.", "msg_bdrk_01B"))
    client = bedrock_client(gateway)
    with client.messages.stream(model=BEDROCK_MODEL, max_tokens=200, messages=MESSAGES) as stream:
        streamed = stream.get_final_message()
    whole = client.messages.create(model=BEDROCK_MODEL, max_tokens=200, messages=MESSAGES)
    assert (streamed.id, whole.id) == ("msg_bdrk_01A", "msg_bdrk_01B")

    calls = bedrock.model_calls  # each one's signature verified, or the fake answers 403
    paths = [
        f"/model/{BEDROCK_MODEL}/invoke-with-response-stream",
        f"/model/{BEDROCK_MODEL}/invoke",
    ]
    assert [c.path for c in calls] == paths  # the SDK sends ':' raw; Claude Code sends %3A
    for call in calls:
        assert (call.header("authorization") or "").startswith("AWS4-HMAC-SHA256 Credential=")
        assert gateway.keys["ada"] not in f"{call.headers}{call.body!r}"
    check_recorded(gateway, 2, ("msg_bdrk_01A", "msg_bdrk_01B"), "bedrock")


def test_the_event_stream_is_relayed_byte_for_byte(
    gateway: Served, bedrock: BedrockUpstream
) -> None:
    reply = answer("Streamed.", "msg_bdrk_01C")
    bedrock.enqueue(reply)
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "messages": MESSAGES}
    with httpx.stream("POST", gateway.url + BEDROCK_CALLS + "invoke-with-response-stream",
                      json=body, headers={"authorization": "Bearer " + gateway.keys["ada"]}
                      ) as done:  # fmt: skip
        received = done.read()
    assert done.headers["content-type"] == bedrock_api.EVENT_STREAM
    sent = b"".join(bedrock_api.chunk(e) for e in bedrock_api.events(reply, RECORDED_MODEL))
    assert received == sent
    buffer = EventStreamBuffer()
    buffer.add_data(received)
    assert len(list(buffer)) == len(bedrock_api.events(reply, RECORDED_MODEL))
    check_recorded(gateway, 1, ("msg_bdrk_01C",), "bedrock")


def test_an_exception_mid_stream_keeps_what_came(gateway: Served, bedrock: BedrockUpstream) -> None:
    bedrock.enqueue(script.error(500, "overloaded", type="internalServerException",
                                 mid_stream=True))  # fmt: skip
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "messages": MESSAGES}
    done = httpx.post(gateway.url + BEDROCK_CALLS + "invoke-with-response-stream", json=body,
                      headers={"x-api-key": gateway.keys["ada"]})  # fmt: skip
    buffer = EventStreamBuffer()
    buffer.add_data(done.content)
    assert list(buffer)[-1].headers[":message-type"] == "exception"
    (output,) = gateway.outputs(1)
    assert output.text == "Partial"


def test_wrong_aws_credentials_get_the_clouds_refusal_unrecorded(
    serve_cloud: Callable[..., Served], bedrock: BedrockUpstream
) -> None:
    gateway = serve_cloud(AWS_SECRET_ACCESS_KEY="not-the-secret")
    client = bedrock_client(gateway)
    with pytest.raises(Exception) as failed:  # the SDK's PermissionDeniedError
        client.messages.create(model=BEDROCK_MODEL, max_tokens=5, messages=MESSAGES)
    response = failed.value.response  # type: ignore[attr-defined]
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("InvalidSignatureException")
    gateway.outputs(0)


@pytest.mark.parametrize(
    ("path", "key", "status", "error_type"),
    [
        (BEDROCK_CALLS + "converse", True, 404, "ResourceNotFoundException"),
        ("/bedrock/inference-profiles", True, 404, "ResourceNotFoundException"),
        (BEDROCK_CALLS + "invoke", False, 401, "UnrecognizedClientException"),
    ],
)
def test_bedrock_refusals_are_in_awss_format(
    gateway: Served, bedrock: BedrockUpstream, path: str, key: bool, status: int, error_type: str
) -> None:
    headers = {"authorization": "Bearer " + gateway.keys["ada"]} if key else {}
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": MESSAGES}
    done = httpx.post(gateway.url + path, json=body, headers=headers)
    assert done.status_code == status
    assert done.headers["x-amzn-errortype"] == error_type
    assert set(done.json()) == {"message"}
    assert not bedrock.requests


def test_a_body_naming_another_model_than_the_path_is_refused(
    gateway: Served, bedrock: BedrockUpstream
) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "model": "claude-opus-4-1",
            "max_tokens": 5, "messages": MESSAGES}  # fmt: skip
    done = httpx.post(gateway.url + BEDROCK_CALLS + "invoke", json=body,
                      headers={"x-api-key": gateway.keys["ada"]})  # fmt: skip
    assert done.status_code == 400
    assert done.headers["x-amzn-errortype"] == "ValidationException"
    assert not bedrock.requests


def test_event_stream_frames_are_relayed_as_they_come(
    gateway: Served, bedrock: BedrockUpstream
) -> None:
    bedrock.enqueue(script.text("Hi", id="msg_bdrk_01D", delay=3.0))  # 3 s before each frame
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "messages": MESSAGES}
    started = time.monotonic()
    with httpx.stream("POST", gateway.url + BEDROCK_CALLS + "invoke-with-response-stream",
                      json=body, headers={"x-api-key": gateway.keys["ada"]}, timeout=60
                      ) as done:  # fmt: skip
        chunks = done.iter_raw()
        first = next(chunks)
        arrived = time.monotonic() - started
        rest = b"".join(chunks)
    # held back, the first frame would come with the second, at 6 s: 2.5 s of slack for load
    assert arrived < 5.5, "the first frame was held back until the next one came"
    buffer = EventStreamBuffer()
    buffer.add_data(first + rest)
    assert len(list(buffer)) == 6
    check = gateway.outputs(1)
    assert check[0].text == "Hi"
