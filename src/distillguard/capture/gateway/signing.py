"""Upstreams that sign their requests: the gateway holds the cloud credentials, clients send
their distillguard key, and each forwarded request is signed as the cloud expects.

A :class:`Signer` turns the request about to be sent into its signed headers. Upstreams of an
API that takes a plain key header (``wire.api.Api.key_header``) have none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from distillguard.config import Upstream
from distillguard.errors import ConfigError

Headers = list[tuple[bytes, bytes]]


class Signer(Protocol):
    async def sign(self, method: str, url: str, headers: Headers, body: bytes) -> Headers:
        """``headers`` with the upstream's credentials added (the request is sent as is)."""


def signer_for(upstream: Upstream, env: Mapping[str, str]) -> Signer | None:
    """The signer of ``upstream``, or None when its API sends a key header instead."""
    if upstream.api in ("bedrock", "vertex"):
        raise ConfigError(f"[upstreams.{upstream.name}] api = {upstream.api!r} is not served yet")
    return None
