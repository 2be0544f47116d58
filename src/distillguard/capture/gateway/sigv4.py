"""Bedrock upstreams: AWS Signature Version 4, computed by botocore.

Credentials come from the AWS chain: the profile ``aws_profile`` when set, else
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` in the gateway's
environment, else botocore's default chain (shared files, SSO, container and instance roles).
They are looked up on first use and refreshed by botocore when they expire, in a thread, as is
the signing itself (it hashes the whole body). The region is the upstream's ``region``; the
service is ``bedrock``. Every header sent is signed, ``host`` included (from the URL, as the
HTTP client sends it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any, Self

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, EnvProvider, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError

from distillguard.capture.gateway.signing import Headers
from distillguard.config import Upstream
from distillguard.errors import ConfigError, UpstreamError

SERVICE = "bedrock"
#: The headers SigV4 adds (X-Amz-Security-Token only for temporary credentials).
ADDED = ("X-Amz-Date", "X-Amz-Security-Token", "Authorization")


class SigV4Signer:
    """Signs each request with the credentials of one AWS identity, for one region."""

    def __init__(self, upstream: str, region: str, find: Any) -> None:
        self._upstream, self._region, self._find = upstream, region, find
        self._credentials: Credentials | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, upstream: Upstream, env: Mapping[str, str]) -> Self:
        where = f"[upstreams.{upstream.name}]"
        if not upstream.region:
            raise ConfigError(f"{where} api = 'bedrock' needs region (e.g. \"us-east-1\")")
        profile = upstream.aws_profile
        try:
            session = botocore.session.Session(profile=profile)
            if profile is not None and profile not in session.available_profiles:
                known = ", ".join(session.available_profiles) or "none"
                raise ConfigError(f"{where} aws_profile {profile!r} is not an AWS profile "
                                  f"(known: {known})")  # fmt: skip
        except BotoCoreError as exc:
            raise ConfigError(f"{where} cannot read the AWS configuration: {exc}") from exc
        environ = {} if profile is not None else dict(env)
        find = lambda: EnvProvider(environ=environ).load() or session.get_credentials()  # noqa: E731
        return cls(upstream.name, upstream.region, find)

    async def sign(self, method: str, url: str, headers: Headers, body: bytes) -> Headers:
        return await asyncio.to_thread(self._sign, method, url, headers, body)

    def _sign(self, method: str, url: str, headers: Headers, body: bytes) -> Headers:
        request = AWSRequest(method=method, url=url, data=body)
        for name, value in headers:  # a name sent twice is signed with both values
            request.headers[name.decode("latin-1")] = value.decode("latin-1")
        SigV4Auth(self._frozen(), SERVICE, self._region).add_auth(request)
        added = [(name, request.headers[name]) for name in ADDED if name in request.headers]
        return [*headers, *((k.lower().encode(), v.encode("latin-1")) for k, v in added)]

    def _frozen(self) -> ReadOnlyCredentials:
        """The current credentials (found on first use; refreshed by botocore)."""
        try:
            with self._lock:
                if self._credentials is None:
                    self._credentials = self._find()
                credentials = self._credentials
            if credentials is None:
                why = "set aws_profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                raise UpstreamError(f"no AWS credentials for upstream {self._upstream}: {why}")
            return credentials.get_frozen_credentials()
        except (BotoCoreError, ValueError) as exc:  # ValueError: a bad AWS_* setting
            raise UpstreamError(f"cannot get AWS credentials for upstream {self._upstream}: "
                                f"{exc}") from exc  # fmt: skip
