"""Upstreams that sign their requests: the gateway holds the cloud credentials, clients send
their distillguard key, and each forwarded request is signed as the cloud expects.

A :class:`Signer` turns the request about to be sent into its signed headers. Upstreams of an
API that takes a plain key header (``wire.api.Api.key_header``) have none. ``vertex``: a Google
OAuth access token of a service account (:mod:`.google_token`); ``bedrock``: AWS Signature
Version 4 (:mod:`.sigv4`). Both need the ``cloud`` extra (google-auth, botocore), imported only
when such an upstream is configured. Signing never blocks the event loop (token refreshes and
credential lookups run in a thread) and fails with :class:`~distillguard.errors.UpstreamError`
(the client gets a 502 in the vendor's format).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from distillguard.config import Upstream
from distillguard.errors import MissingDependencyError

Headers = list[tuple[bytes, bytes]]


class Signer(Protocol):
    async def sign(self, method: str, url: str, headers: Headers, body: bytes) -> Headers:
        """``headers`` with the upstream's credentials added (the request is sent as is)."""


def signer_for(upstream: Upstream, env: Mapping[str, str]) -> Signer | None:
    """The signer of ``upstream``, or None when its API sends a key header instead.
    ConfigError when its credentials are not configured or cannot be read."""
    if upstream.api == "vertex":
        try:
            from distillguard.capture.gateway import google_token
        except ImportError as exc:
            raise MissingDependencyError(f"google-auth ({exc.name})", "cloud") from exc
        return google_token.ServiceAccountSigner.of(upstream, env)
    if upstream.api == "bedrock":
        try:
            from distillguard.capture.gateway import sigv4
        except ImportError as exc:
            raise MissingDependencyError(f"botocore ({exc.name})", "cloud") from exc
        return sigv4.SigV4Signer.of(upstream, env)
    return None
