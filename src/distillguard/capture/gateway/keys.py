"""Gateway keys: made here, shown once, stored hashed (``sha256:<hex>``) with their grant."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qsl, unquote_plus

from distillguard.errors import ConfigError
from distillguard.model import GatewayKey

PREFIX = "dg-"
#: The query parameter that carries a key (Google's APIs): read, then never forwarded.
QUERY_KEY = "key"


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


def secret_of(headers: dict[bytes, bytes], query: bytes = b"") -> str | None:
    """The key a client sent: ``x-api-key``, ``x-goog-api-key``, ``Authorization: Bearer``,
    else the ``key`` query parameter (Google's clients may send it there)."""
    for name in (b"x-api-key", b"x-goog-api-key"):
        value = headers.get(name, b"").decode("latin-1").strip()
        if value:
            return value
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return query_key(query)


def query_key(query: bytes) -> str | None:
    """The value of the first non-empty ``key`` parameter of a query string."""
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name == QUERY_KEY and value.strip():
            return value.strip()
    return None


def without_key(query: bytes) -> bytes:
    """``query`` less every ``key`` parameter, the rest byte for byte as it came."""
    kept = [item for item in query.split(b"&") if not _is_key(item)]
    return b"&".join(kept)


def _is_key(item: bytes) -> bool:
    name = item.partition(b"=")[0]
    return unquote_plus(name.decode("latin-1")) == QUERY_KEY
