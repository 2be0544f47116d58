"""A fake Vertex AI serving Claude, with Google's OAuth token endpoint beside it.

    with VertexUpstream() as vertex:
        info = vertex.service_account()      # a service-account JSON (a real RSA key) whose
        ...                                  # token_uri is this server's /token
        vertex.enqueue(script.text("Hi."))

``POST /token`` (RFC 7523 JWT bearer grant, as google-auth sends it): the ``assertion`` must be
an RS256 JWT signed with the account's key, ``kid`` its key id, ``iss`` its email, ``aud``
Google's token URI (or this one), ``scope`` ``cloud-platform``, not expired; the answer is a
new access token. ``POST /v1/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:
rawPredict`` and ``:streamRawPredict`` need ``Authorization: Bearer <a token it issued>`` and a
body with an ``anthropic_version`` (Claude Code sends ``vertex-2023-10-16``, the Python SDK 2.x
its API date) and no ``model``; they answer Anthropic's message (JSON or SSE; ``model`` is the
path's with ``@`` as ``-``). ``models/count-tokens:rawPredict`` answers ``{"input_tokens": N}``.
Errors are Google's ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes import anthropic_api as anthropic
from tests.fakes.cloud import CloudRequest, CloudUpstream
from tests.fakes.script import Failure
from tests.fakes.wire import Rendered, json_response

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EMAIL = "distillguard-test@proj-1.iam.gserviceaccount.com"
#: The audience Google's token endpoint takes (google-auth sends it whatever the token_uri).
AUDIENCE = "https://oauth2.googleapis.com/token"
_CALL = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/publishers/anthropic/models/"
                   r"([^/:]+):(rawPredict|streamRawPredict)$")  # fmt: skip
STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}  # fmt: skip


def google_error(status: int, message: str) -> Rendered:
    body = {"error": {"code": status, "message": message, "status": STATUS.get(status, "UNKNOWN")}}
    return json_response(status, body, ())


def _b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class VertexUpstream(CloudUpstream):
    """The fake; ``token_status`` set to an HTTP status makes the token endpoint fail."""

    def __init__(self, token_lifetime: int = 3600) -> None:
        super().__init__()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = secrets.token_hex(20)
        self.token_lifetime = token_lifetime
        self.token_status: int | None = None
        self.issued: dict[str, float] = {}  # token -> expiry (unix time)
        self._lock = threading.Lock()

    def service_account(self, project: str = "proj-1") -> dict[str, Any]:
        """A service-account key file's content, as the Cloud console writes it."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": project,
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
        }

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    @property
    def token_requests(self) -> list[CloudRequest]:
        return [r for r in self.requests if r.path == "/token"]

    @property
    def model_calls(self) -> list[CloudRequest]:
        return [r for r in self.requests if _CALL.match(r.path) and "count-tokens" not in r.path]

    def route(self, request: CloudRequest) -> Rendered:
        if request.method == "POST" and request.path == "/token":
            return self._token(request)
        why = self._unauthorised(request)
        if why is not None:
            return google_error(401, why)
        call = _CALL.match(request.path)
        if request.method == "POST" and request.path.endswith("/models/count-tokens:rawPredict"):
            return json_response(200, {"input_tokens": max(1, len(request.body) // 4)}, ())
        if request.method == "POST" and call is not None:
            return self._call(request, call.group(3), call.group(4) == "streamRawPredict")
        return google_error(404, f"The requested URL {request.path} was not found on this server.")

    # --- the token endpoint -------------------------------------------------------------------

    def _token(self, request: CloudRequest) -> Rendered:
        if self.token_status is not None:
            return json_response(self.token_status, {"error": "internal_failure"}, ())
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        why = "unsupported_grant_type" if form.get("grant_type") != GRANT else None
        why = why or self._bad_assertion(form.get("assertion", ""))
        if why is not None:
            return json_response(400, {"error": "invalid_grant", "error_description": why}, ())
        token = "ya29." + secrets.token_urlsafe(24)
        with self._lock:
            self.issued[token] = time.time() + self.token_lifetime
        answer = {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        return json_response(200, answer, ())

    def _bad_assertion(self, assertion: str) -> str | None:
        """Why the JWT is not one this account signed for this endpoint, or None."""
        try:
            head, claims, signature = assertion.split(".")
            header, payload = json.loads(_b64(head)), json.loads(_b64(claims))
            self.key.public_key().verify(
                _b64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (ValueError, InvalidSignature) as exc:
            return f"Invalid JWT: {exc!r}"
        now = time.time()
        expected = {"alg": "RS256", "kid": self.key_id}
        if {k: header.get(k) for k in expected} != expected:
            return f"Invalid JWT header: {header}"
        if payload.get("iss") != EMAIL or payload.get("aud") not in (AUDIENCE, self.token_uri):
            return f"Invalid JWT issuer or audience: {payload}"
        if payload.get("scope") != SCOPE:
            return f"Invalid JWT scope: {payload.get('scope')!r}"
        if not payload.get("iat", now + 999) <= now + 60 < payload.get("exp", 0) + 60:
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe"
        return None

    # --- model calls --------------------------------------------------------------------------

    def _unauthorised(self, request: CloudRequest) -> str | None:
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        with self._lock:
            expiry = self.issued.get(token)
        if scheme != "Bearer" or expiry is None or expiry < time.time():
            return ("Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential.")  # fmt: skip
        return None

    def _call(self, request: CloudRequest, model: str, streamed: bool) -> Rendered:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("anthropic_version"), str):
            return google_error(400, "anthropic_version: Field required")
        if "model" in body:
            return google_error(400, "model: Extra inputs are not permitted")
        item = self.take(request)
        if isinstance(item, Failure):
            return google_error(item.status, item.message)
        name = model.replace("@", "-")
        return anthropic.stream(item, name) if streamed else anthropic.message(item, name)
