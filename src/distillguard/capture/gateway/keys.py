"""Gateway keys: made here, shown once, stored hashed (``sha256:<hex>``) with their grant."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, time, timedelta

from distillguard.errors import ConfigError
from distillguard.model import GatewayKey

PREFIX = "dg-"


def hash_secret(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key(
    actor: str, team: str, approved_by: str, until: date | None, now: datetime | None = None
) -> tuple[GatewayKey, str]:
    """A new key and its secret (the secret is not stored anywhere: show it once).

    ``until`` is the last day of the grant (inclusive, UTC).
    """
    for name, value in (("actor", actor), ("team", team), ("approved_by", approved_by)):
        if not value or not value.strip():
            raise ConfigError(f"a gateway key needs a non-empty {name}")
    now = now or datetime.now(UTC)
    expires = None
    if until is not None:
        expires = datetime.combine(until + timedelta(days=1), time(), tzinfo=UTC)
        if expires <= now:
            raise ConfigError(f"--until {until.isoformat()} is in the past")
    secret = PREFIX + secrets.token_urlsafe(32)
    key = GatewayKey(
        id="key_" + secrets.token_hex(6),
        key_hash=hash_secret(secret),
        actor=actor,
        team=team,
        approved_by=approved_by,
        created_at=now,
        expires_at=expires,
    )
    return key, secret


def secret_of(headers: dict[bytes, bytes]) -> str | None:
    """The key a client sent: ``x-api-key``, else ``Authorization: Bearer``."""
    value = headers.get(b"x-api-key")
    if value:
        return value.decode("latin-1").strip()
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = auth.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
