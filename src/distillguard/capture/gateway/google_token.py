"""Vertex AI upstreams: a Google OAuth access token from a service account, via google-auth.

The service-account JSON (``credentials_file``, else ``GOOGLE_APPLICATION_CREDENTIALS``) is
read when the gateway starts. Its token is fetched from the account's ``token_uri`` (a JWT
assertion signed with the account's key, scope ``cloud-platform``) on first use, in a thread,
and kept until google-auth finds it near expiry; concurrent calls wait for one refresh.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, Self

import google.auth.exceptions
import requests
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from distillguard.capture.gateway.signing import Headers
from distillguard.config import Upstream
from distillguard.errors import ConfigError, UpstreamError

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
#: Seconds a token request may take (google-auth's own default is 120).
TOKEN_TIMEOUT_S = 30.0


class ServiceAccountSigner:
    """Adds ``Authorization: Bearer <access token>`` of one service account."""

    def __init__(self, credentials: service_account.Credentials, token_uri: str, upstream: str):
        self._credentials = credentials
        self._token_uri = token_uri
        self._upstream = upstream
        self._lock = asyncio.Lock()
        self._session = requests.Session()

    @classmethod
    def of(cls, upstream: Upstream, env: Mapping[str, str]) -> Self:
        path = upstream.credentials_file or env.get("GOOGLE_APPLICATION_CREDENTIALS")
        where = f"[upstreams.{upstream.name}]"
        if not path:
            raise ConfigError(f"{where} api = 'vertex' needs a service-account JSON: set "
                              "credentials_file, or GOOGLE_APPLICATION_CREDENTIALS")  # fmt: skip
        try:
            with open(path, encoding="utf-8") as file:
                info = json.load(file)
            credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[SCOPE]
            )
        except (OSError, ValueError) as exc:  # JSONDecodeError, a missing field, a bad key
            raise ConfigError(f"{where} cannot read the service account {path}: {exc}") from exc
        return cls(credentials, str(info.get("token_uri")), upstream.name)

    async def sign(self, method: str, url: str, headers: Headers, body: bytes) -> Headers:
        token = await self._token()
        return [*headers, (b"authorization", b"Bearer " + token.encode("latin-1"))]

    async def _token(self) -> str:
        if not self._credentials.valid:
            async with self._lock:
                if not self._credentials.valid:  # another call may have refreshed it
                    await asyncio.to_thread(self._refresh)
        token = self._credentials.token
        if not isinstance(token, str):
            raise UpstreamError(f"the token endpoint of upstream {self._upstream} sent no token")
        return token

    def _refresh(self) -> None:
        request = _TimedRequest(self._session)
        try:
            self._credentials.refresh(request)  # type: ignore[no-untyped-call]
        except google.auth.exceptions.GoogleAuthError as exc:
            raise UpstreamError(
                f"cannot get a Google access token for upstream {self._upstream} from "
                f"{self._token_uri}: {exc}"
            ) from exc


class _TimedRequest(Request):
    """google-auth's requests transport, each request bounded by :data:`TOKEN_TIMEOUT_S`."""

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: float | None = None, **kwargs: Any) -> Any:  # fmt: skip
        return super().__call__(url, method, body, headers, TOKEN_TIMEOUT_S, **kwargs)  # type: ignore[no-untyped-call]
