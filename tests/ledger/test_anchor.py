"""Anchoring heads: ``ledger head --sign`` and ``ledger verify --expect-head FILE --pub``, run
through the command line against a real ledger on each backend, tampered behind its back."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from distillguard.capture.gateway.keys import hash_secret
from distillguard.ledger import anchor, chain, journal
from distillguard.ledger.schema import gateway_keys, outputs
from distillguard.ledger.schema import journal as journal_table
from distillguard.model import GatewayKey, content_hash
from tests.ledger.factory import T0, raw_sql, rows_of, write_rows

ANSWER = "def area(w, h):\n    return w * h  # {}\n"


def _keypair(where: Path, name: str = "ledger") -> tuple[Path, Path]:
    """An ed25519 key pair as PEM files, as openssl genpkey / pkey -pubout write them."""
    key = Ed25519PrivateKey.generate()
    private, public = where / f"{name}.pem", where / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


@pytest.fixture
def cli(run, ledger_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The command line on a ledger of each backend, holding three outputs and a key."""
    monkeypatch.setenv("DISTILLGUARD_DB", ledger_url)
    for i in range(3):
        result = run("record", "-", "--vendor", "anthropic", "--model", "m", input=ANSWER.format(i))
        assert result.exit_code == 0, result.output
    result = run("keys", "create", "--actor", "ada", "--team", "ml", "--approved-by", "boss")
    assert result.exit_code == 0, result.output
    return run


def _signed_head(cli, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    private, public = _keypair(tmp_path)
    statement = tmp_path / "head.json"
    result = cli("ledger", "head", "--sign", str(private), "--output", str(statement))
    assert result.exit_code == 0, result.output
    return statement, public


def test_signed_head_statement_names_the_head(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    statement, public = _signed_head(cli, tmp_path)
    head = cli("ledger", "head").output.strip()
    envelope = json.loads(statement.read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    payload = json.loads(base64.b64decode(envelope["payload"]))
    assert payload["_type"] == "https://in-toto.io/Statement/v1"
    assert payload["predicateType"] == anchor.PREDICATE_TYPE
    assert payload["predicate"]["head"] == head
    parsed = anchor.parse_head(head)
    assert parsed.journal is not None and parsed.journal[0] == 1  # the key is journaled
    assert [s["name"] for s in payload["subject"]] == ["outputs@3", "journal@1"]
    assert payload["subject"][0]["digest"]["sha256"] == parsed.outputs[1].removeprefix("sha256:")
    result = cli("ledger", "verify", "--expect-head", str(statement), "--pub", str(public))
    assert result.exit_code == 0, result.output
    assert "ok: 3 records, 1 journal entries" in result.output


def test_a_forged_output_chained_at_the_tail_is_caught_by_the_signed_head(
    cli, ledger_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    statement, public = _signed_head(cli, tmp_path)
    (last,) = rows_of(ledger_url, outputs, seq=3)
    forged = last | {"text": "harmless", "content_hash": content_hash("harmless")}
    forged["chain_hash"] = chain.link(forged["prev_hash"], forged)  # correctly chained
    raw_sql(ledger_url, "DELETE FROM outputs WHERE seq = 3")
    write_rows(ledger_url, outputs, [forged])
    assert cli("ledger", "verify").exit_code == 0  # the chain alone cannot tell
    result = cli("ledger", "verify", "--expect-head", str(statement), "--pub", str(public))
    assert result.exit_code == 1
    assert f"FAIL seq 3 ({last['id']}): chain hash differs from the expected head" in result.output


def test_a_forged_key_chained_into_the_journal_is_caught_by_the_signed_head(
    cli, ledger_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A key with a secret the tamperer knows, journaled as the ledger would: consistent,
    except against the head signed before."""
    statement, public = _signed_head(cli, tmp_path)
    (real,) = rows_of(ledger_url, gateway_keys)
    raw_sql(ledger_url, "DELETE FROM journal WHERE seq = 1")
    raw_sql(ledger_url, "DELETE FROM gateway_keys")
    forged = GatewayKey("key_forged", hash_secret("known"), "mallory", "ml", "boss", T0)
    write_rows(ledger_url, gateway_keys, [asdict(forged)])
    entry: dict[str, Any] = {"seq": 1, "table_name": "gateway_keys", "row_id": forged.id}
    entry |= {"state": journal.state_digest(asdict(forged)), "created_at": real["created_at"]}
    entry["prev_hash"] = journal.GENESIS
    entry["chain_hash"] = journal.link(journal.GENESIS, entry)
    write_rows(ledger_url, journal_table, [entry])
    assert cli("ledger", "verify").exit_code == 0
    result = cli("ledger", "verify", "--expect-head", str(statement), "--pub", str(public))
    assert result.exit_code == 1
    assert (
        "FAIL journal seq 1 (gateway_keys key_forged): chain hash differs from the expected head"
        in result.output
    )


def test_a_statement_signed_by_another_key_fails(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    statement, _ = _signed_head(cli, tmp_path)
    _, other = _keypair(tmp_path, "other")
    result = cli("ledger", "verify", "--expect-head", str(statement), "--pub", str(other))
    assert result.exit_code == 1
    assert "FAIL the signed head: no signature in the envelope verifies" in result.output


def test_a_statement_whose_head_was_replaced_fails(cli, ledger_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    statement, public = _signed_head(cli, tmp_path)
    raw_sql(ledger_url, "DELETE FROM outputs WHERE seq = 3")  # cut the tail, then forge the anchor
    envelope = json.loads(statement.read_text())
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["predicate"]["head"] = cli("ledger", "head").output.strip()
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    statement.write_text(json.dumps(envelope))
    result = cli("ledger", "verify", "--expect-head", str(statement), "--pub", str(public))
    assert result.exit_code == 1 and "FAIL the signed head" in result.output


def test_unsigned_and_unchecked_anchors_are_usage_errors(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    statement, public = _signed_head(cli, tmp_path)
    head = cli("ledger", "head").output.strip()
    bare = cli("ledger", "verify", "--expect-head", head, "--pub", str(public))
    assert bare.exit_code == 2 and "is not signed" in bare.output
    unchecked = cli("ledger", "verify", "--expect-head", str(statement))
    assert unchecked.exit_code == 2 and "give --pub" in unchecked.output
    assert cli("ledger", "verify", "--pub", str(public)).exit_code == 2
    assert cli("ledger", "verify", "--expect-head", head).exit_code == 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_keys_made_by_openssl_sign_and_verify(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    private, public = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", private], check=True)
    subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", public], check=True)
    signed = cli("ledger", "head", "--sign", str(private))
    assert signed.exit_code == 0
    (tmp_path / "head.json").write_text(signed.output)
    result = cli(
        "ledger", "verify", "--expect-head", str(tmp_path / "head.json"), "--pub", str(public)
    )
    assert result.exit_code == 0, result.output


def test_signing_with_what_is_not_an_ed25519_key_is_a_clear_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    result = cli("ledger", "head", "--sign", str(bogus))
    assert result.exit_code == 2 and "not an unencrypted PEM private key" in result.output
