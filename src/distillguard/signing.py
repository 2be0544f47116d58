"""ed25519 signatures in DSSE envelopes: how distillguard signs a statement and checks one.

Keys are PEM files as ``openssl genpkey -algorithm ed25519`` writes them (the private key,
PKCS#8) and ``openssl pkey -in KEY -pubout`` (the public key). An envelope is the JSON object
``{"payloadType": ..., "payload": <base64>, "signatures": [{"keyid": ..., "sig": <base64>}]}``;
each signature covers DSSE's pre-authentication encoding of the payload type and the payload,
so neither can be swapped. ``keyid`` is the sha256 of the raw public key (a hint, never
trusted). The ``cryptography`` package does the ed25519 work.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distillguard.errors import InputError, MissingDependencyError, SignatureError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

IN_TOTO = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign(payload: bytes, key_path: str | Path, payload_type: str = IN_TOTO) -> dict[str, Any]:
    """A DSSE envelope of ``payload`` signed with the ed25519 private key at ``key_path``."""
    key = load_private_key(key_path)
    signature = key.sign(pae(payload_type, payload))
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode()}
        ],
    }


def open_envelope(data: bytes, pub_path: str | Path, payload_type: str = IN_TOTO) -> bytes:
    """The payload of a DSSE envelope that the key at ``pub_path`` signed.

    InputError when the envelope is malformed or holds another payload type; SignatureError
    when no signature in it is that key's over this payload.
    """
    public = load_public_key(pub_path)
    kind, payload, signatures = _parse_envelope(data)
    if kind != payload_type:
        raise InputError(f"the envelope holds {kind!r}, not {payload_type!r}")
    from cryptography.exceptions import InvalidSignature

    message = pae(kind, payload)
    for signature in signatures:
        try:
            public.verify(signature, message)
        except InvalidSignature:  # another key's signature, or a forged one: try the next
            continue
        return payload
    raise SignatureError(f"no signature in the envelope verifies with the key {pub_path}")


def _parse_envelope(data: bytes) -> tuple[str, bytes, list[bytes]]:
    try:
        doc = json.loads(data)
        kind = doc["payloadType"]
        payload = base64.b64decode(doc["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True) for s in doc["signatures"]]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InputError(f"not a DSSE envelope: {exc}") from None
    if not isinstance(kind, str):
        raise InputError("not a DSSE envelope: payloadType is not a string")
    return kind, payload, signatures


def key_id(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    _require_crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise InputError(f"{path}: not an ed25519 key (openssl genpkey -algorithm ed25519)")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    _require_crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        key = serialization.load_pem_public_key(_read(path))
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise InputError(f"{path}: not an ed25519 public key (openssl pkey -pubout)")
    return key


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the key {path}: {exc.strerror or exc}") from exc


def _require_crypto() -> None:
    """A clear error when the ``cryptography`` package is not installed."""
    try:
        import cryptography  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("cryptography", "sign") from exc
