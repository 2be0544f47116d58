"""A fake Amazon Bedrock runtime serving Claude, that checks each request's SigV4 signature.

    with BedrockUpstream() as bedrock:       # credentials: bedrock.credentials_env()
        bedrock.enqueue(script.text("Hi."))

``POST /model/{modelId}/invoke`` answers Anthropic's message JSON;
``/invoke-with-response-stream`` answers ``application/vnd.amazon.eventstream``: one ``chunk``
frame per Anthropic stream event (``{"bytes": base64(event JSON), "p": padding}``; no ``ping``),
the ``message_stop`` one carrying ``amazon-bedrock-invocationMetrics``; a ``mid_stream`` failure
ends with an ``exception`` frame. The body must hold an ``anthropic_version`` (Claude Code sends
``bedrock-2023-05-31``, the Python SDK 2.x its API date) and no ``model``. The message's
``model`` is the id's Anthropic name (``us.anthropic.claude-x-20250929-v1:0`` ->
``claude-x-20250929``). Every request must carry a valid ``AWS4-HMAC-SHA256`` signature
(service ``bedrock``, the fake's region), recomputed with botocore over the raw path; else 403
``InvalidSignatureException``. Errors are ``{"message": ...}`` with an ``x-amzn-ErrorType``
header.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import struct
import time
from datetime import UTC, datetime
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fakes import anthropic_api as anthropic
from tests.fakes.cloud import CloudRequest, CloudUpstream
from tests.fakes.script import Failure, Reply, Text
from tests.fakes.wire import Rendered, json_response

EVENT_STREAM = "application/vnd.amazon.eventstream"
_CALL = re.compile(r"^/model/([^/]+)/(invoke|invoke-with-response-stream)$")
_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                   r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")  # fmt: skip
_BASE_MODEL = re.compile(r"^(?:[a-z]+\.)?anthropic\.(.+?)(?:-v\d+(?::\d+)?)?$")


def aws_error(status: int, kind: str, message: str) -> Rendered:
    headers = (("x-amzn-ErrorType", f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
               ("x-amzn-RequestId", secrets.token_hex(16)))  # fmt: skip
    return json_response(status, {"message": message}, headers)


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message (string headers only), checksums included."""
    raw = b"".join(
        bytes([len(name)])
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 12 + len(raw) + len(payload) + 4, len(raw))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + raw + payload
    return message + struct.pack(">I", binascii.crc32(message))


def chunk(event: dict[str, Any]) -> bytes:
    data = base64.b64encode(json.dumps(event, separators=(",", ":")).encode()).decode()
    payload = json.dumps({"bytes": data, "p": "abcdefghij"[: len(data) % 10]}).encode()
    headers = {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return frame(headers, payload)


def exception(kind: str, message: str) -> bytes:
    headers = {":exception-type": kind, ":content-type": "application/json",
               ":message-type": "exception"}  # fmt: skip
    return frame(headers, json.dumps({"message": message}).encode())


def base_model(model_id: str) -> str:
    """``us.anthropic.claude-sonnet-4-5-20250929-v1:0`` -> ``claude-sonnet-4-5-20250929``."""
    found = _BASE_MODEL.match(model_id)
    return found.group(1) if found else model_id


def events(reply: Reply, model: str) -> list[dict[str, Any]]:
    """Anthropic's stream events for ``reply`` (no ping), the last with invocation metrics."""
    out = []
    for raw in anthropic.events(reply, model):
        data = next(line for line in raw.decode().split("\n") if line.startswith("data: "))
        event = json.loads(data.removeprefix("data: "))
        if event["type"] != "ping":
            out.append(event)
    u = reply.usage
    out[-1]["amazon-bedrock-invocationMetrics"] = {
        "inputTokenCount": u.input_tokens, "outputTokenCount": u.output_tokens,
        "invocationLatency": 812, "firstByteLatency": 304,
        "cacheReadInputTokenCount": u.cache_read_tokens,
        "cacheWriteInputTokenCount": u.cache_write_tokens,
    }  # fmt: skip
    return out


class BedrockUpstream(CloudUpstream):
    """The fake, for one identity (``access_key``/``secret_key``/``token``) and ``region``."""

    def __init__(self, region: str = "us-east-1", session_token: str | None = None) -> None:
        super().__init__()
        self.region = region
        self.access_key = "AKIA" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.session_token = session_token

    def credentials_env(self) -> dict[str, str]:
        env = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        return env | ({"AWS_SESSION_TOKEN": self.session_token} if self.session_token else {})

    @property
    def model_calls(self) -> list[CloudRequest]:
        return [r for r in self.requests if _CALL.match(r.path)]

    def route(self, request: CloudRequest) -> Rendered:
        why = self.bad_signature(request)
        if why is not None:
            return aws_error(403, "InvalidSignatureException", why)
        call = _CALL.match(request.path)
        if request.method == "POST" and call is not None:
            return self._call(request, call.group(1), call.group(2) != "invoke")
        if request.method == "POST" and re.match(r"^/model/[^/]+/count-tokens$", request.path):
            return json_response(200, {"inputTokens": max(1, len(request.body) // 4)}, ())
        return aws_error(404, "UnknownOperationException", "")

    # --- SigV4 --------------------------------------------------------------------------------

    def bad_signature(self, request: CloudRequest) -> str | None:
        """Why ``request`` is not signed by this identity for this region, or None."""
        found = _AUTH.match(request.header("authorization") or "")
        stamp = request.header("x-amz-date") or ""
        if found is None:
            return "Authorization header requires a valid AWS4-HMAC-SHA256 signature."
        key, day, region, service, signed, signature = found.groups()
        if (key, region, service) != (self.access_key, self.region, "bedrock"):
            return f"Credential should be scoped to a valid region ({key}/{region}/{service})."
        if not stamp.startswith(day) or _age(stamp) > 300:
            return f"Signature expired or not yet valid: {stamp}"
        if request.header("x-amz-security-token") != self.session_token:
            return "The security token included in the request is invalid."
        expected = self._signature(request, signed.split(";"), stamp)
        if not secrets.compare_digest(expected, signature):
            return ("The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method.")  # fmt: skip
        return None

    def _signature(self, request: CloudRequest, signed: list[str], stamp: str) -> str:
        query = f"?{request.query}" if request.query else ""
        url = f"http://{request.header('host')}{request.raw_path}{query}"
        aws = AWSRequest(method=request.method, url=url, data=request.body)
        for name, value in request.headers:
            if name in signed:
                aws.headers[name] = value
        aws.context["timestamp"] = stamp
        auth = SigV4Auth(
            Credentials(self.access_key, self.secret_key, self.session_token),
            "bedrock",
            self.region,
        )
        canonical = auth.canonical_request(aws)
        return str(auth.signature(auth.string_to_sign(aws, canonical), aws))

    # --- model calls --------------------------------------------------------------------------

    def _call(self, request: CloudRequest, model_id: str, streamed: bool) -> Rendered:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("anthropic_version"), str):
            why = "required key [anthropic_version] not found"
            return aws_error(400, "ValidationException", why)
        if "model" in body:
            return aws_error(400, "ValidationException", "extraneous key [model] is not permitted")
        item, model = self.take(request), base_model(model_id)
        if isinstance(item, Failure) and not (streamed and item.mid_stream):
            return aws_error(item.status, item.type or "ThrottlingException", item.message)
        if not streamed:
            assert isinstance(item, Reply)
            return anthropic.message(item, model)
        if isinstance(item, Failure):
            partial = events(Reply(blocks=(Text("Partial answer that never finishes"),)), model)
            frames = [chunk(e) for e in partial[:3]]
            frames.append(exception(item.type or "modelStreamErrorException", item.message))
        else:
            frames = [chunk(e) for e in events(item, model)]
        headers = (("content-type", EVENT_STREAM), ("x-amzn-RequestId", secrets.token_hex(16)),
                   ("x-amzn-bedrock-content-type", "application/json"))  # fmt: skip
        cut = item.cut_after if isinstance(item, Reply) else None
        delay = item.delay if isinstance(item, Reply) else 0.0
        return Rendered(200, headers, events=tuple(frames), stream=True, delay=delay,
                        cut_after=cut)  # fmt: skip


def _age(stamp: str) -> float:
    try:
        signed = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return float("inf")
    return abs(time.time() - signed.timestamp())
