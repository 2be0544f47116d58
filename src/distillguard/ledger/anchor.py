"""Anchoring a ledger elsewhere: its head, and the signed head statement that publishes it.

A head names the tail of both chains: ``<seq>:sha256:<hex>`` of the outputs, then
``+<seq>:sha256:<hex>`` of the journal (edits, gateway keys and their grants). A head of the
outputs alone (as printed before the journal existed) still checks the outputs.

Verifying against a head recorded earlier catches what a chain alone cannot: a tail cut off,
or rewritten (or a forged record appended) with valid links. A signed head statement makes
that anchor hard to forge as well: an in-toto Statement v1 (predicate type
:data:`PREDICATE_TYPE`, the chains' tail hashes as subjects, the head in the predicate) in a
DSSE envelope signed with an ed25519 key, as ``attest`` signs. It can be kept wherever the
ledger's writers cannot reach: a git tag, an attestation store, a partner's inbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from distillguard import signing
from distillguard.errors import InputError
from distillguard.ledger import chain

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://distillguard.dev/ledger-head/v1"


@dataclass(frozen=True)
class Head:
    """``(seq, chain_hash)`` of the last output and, when known, of the last journal entry."""

    outputs: tuple[int, str]
    journal: tuple[int, str] | None = None

    def __str__(self) -> str:
        text = chain.format_head(*self.outputs)
        return text if self.journal is None else f"{text}+{chain.format_head(*self.journal)}"


def parse_head(text: str) -> Head:
    """The head written as ``<seq>:sha256:<hex>[+<seq>:sha256:<hex>]``; ValueError if not one."""
    outputs, plus, journal = text.strip().partition("+")
    try:
        return Head(chain.parse_head(outputs), chain.parse_head(journal) if plus else None)
    except ValueError:
        raise ValueError(
            "not a ledger head (expected '<seq>:sha256:<64 hex>+<seq>:sha256:<64 hex>', "
            f"as `distillguard ledger head` prints): {text.strip()[:200]!r}"
        ) from None


def statement(head: Head, signed_at: datetime) -> bytes:
    """The in-toto Statement of ``head``, as signed by ``ledger head --sign``."""
    tails = {"outputs": head.outputs, "journal": head.journal}
    subjects = [
        {
            "name": f"{name}@{tail[0]}",
            "digest": {chain.ALGORITHM: tail[1].removeprefix(chain.PREFIX)},
        }
        for name, tail in tails.items()
        if tail is not None
    ]
    predicate = {"head": str(head), "signedAt": chain.iso_utc(signed_at)}
    doc = {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE}
    return json.dumps(doc | {"predicate": predicate}, indent=2).encode("utf-8")


def head_of_statement(payload: bytes) -> Head:
    """The head a signed head statement names; InputError when it is not one."""
    try:
        doc = json.loads(payload)
        if doc["_type"] != STATEMENT_TYPE or doc["predicateType"] != PREDICATE_TYPE:
            raise ValueError(f"predicate type {doc['predicateType']!r}")
        return parse_head(doc["predicate"]["head"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"not a signed ledger head statement: {exc}") from None


def expected_head(value: str, pub: str | Path | None = None) -> Head:
    """The head to verify against: ``value`` is a head, or a file holding a head or a signed
    head statement (a DSSE envelope). A statement is trusted only with ``pub``, the public key
    that must have signed it (SignatureError when it did not); with ``pub``, a bare head is
    refused."""
    text = _file_text(value) if _is_file(value) else value
    if text.lstrip().startswith("{"):
        if pub is None:
            raise InputError("the expected head is a signed statement: give --pub PUBLIC.pem")
        payload = signing.open_envelope(text.encode("utf-8"), pub)
        return head_of_statement(payload)
    if pub is not None:
        raise InputError(
            "--pub checks a signed head statement (ledger head --sign), but the expected "
            "head is not signed"
        )
    try:
        return parse_head(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _is_file(value: str) -> bool:
    try:
        return Path(value).is_file()
    except (OSError, ValueError):  # not a usable path (too long, a NUL in it): a bare head
        return False


def _file_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the expected head {path}: {exc}") from exc
