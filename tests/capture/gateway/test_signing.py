"""Signing upstream requests: SigV4 for Bedrock (checked by the fake's botocore verifier) and a
service account's OAuth token for Vertex (from the fake's token endpoint, which checks the
signed JWT); configuration errors at start, signing failures as UpstreamError."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from distillguard.capture.gateway.signing import Headers, signer_for
from distillguard.config import Upstream
from distillguard.errors import ConfigError, UpstreamError
from tests.fakes.bedrock_api import BedrockUpstream
from tests.fakes.cloud import CloudRequest
from tests.fakes.vertex_api import VertexUpstream

PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
BODY = b'{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[]}'
HEADERS: Headers = [
    (b"content-type", b"application/json"),
    (b"anthropic-beta", b"claude-code-20250219,effort-2025-11-24"),
    (b"x-stainless-retry-count", b"0"),
    (b"x-stainless-retry-count", b"1"),  # a name sent twice: both values are signed
]


def bedrock_upstream(region: str | None = "us-east-1", profile: str | None = None) -> Upstream:
    return Upstream("bedrock", "bedrock", "http://unused", None, "anthropic",
                    region=region, aws_profile=profile)  # fmt: skip


def vertex_upstream(credentials: Path | None) -> Upstream:
    file = str(credentials) if credentials else None
    return Upstream("vertex", "vertex", "http://unused", None, "anthropic", region="us-east5",
                    project="proj-1", credentials_file=file)  # fmt: skip


@pytest.fixture(scope="module")
def bedrock() -> Iterator[BedrockUpstream]:
    with BedrockUpstream(session_token="FwoGZXIvYXdzEBYaD-session") as up:
        yield up


@pytest.fixture
def vertex() -> Iterator[VertexUpstream]:
    with VertexUpstream() as up:
        yield up


def as_received(
    up: BedrockUpstream, headers: Headers, body: bytes = BODY, path: str = PATH
) -> CloudRequest:
    """The request as the fake would receive it (aiohttp adds Host from the URL)."""
    pairs = tuple((k.decode().lower(), v.decode()) for k, v in headers)
    host = (("host", f"{up.host}:{up.port}"),)
    return CloudRequest("POST", path, "", host + pairs, body, raw_path=path)


def sign_bedrock(up: BedrockUpstream, headers: Headers = HEADERS, env: dict[str, str] | None = None
                 ) -> Headers:  # fmt: skip
    signer = signer_for(bedrock_upstream(), up.credentials_env() if env is None else env)
    assert signer is not None
    return asyncio.run(signer.sign("POST", up.base_url + PATH, list(headers), BODY))


def test_sigv4_signatures_verify(bedrock: BedrockUpstream) -> None:
    signed = sign_bedrock(bedrock)
    assert signed[: len(HEADERS)] == HEADERS  # the client's headers, unchanged
    added = dict(signed[len(HEADERS) :])
    assert set(added) == {b"x-amz-date", b"x-amz-security-token", b"authorization"}
    assert bedrock.bad_signature(as_received(bedrock, signed)) is None


def test_a_changed_request_no_longer_verifies(bedrock: BedrockUpstream) -> None:
    signed = sign_bedrock(bedrock)
    assert bedrock.bad_signature(as_received(bedrock, signed, body=BODY + b" "))
    other = PATH.replace("%3A", ":")  # the path as signed is the path as sent
    assert bedrock.bad_signature(as_received(bedrock, signed, path=other))
    tampered = [(k, b"claude-code-20250219" if k == b"anthropic-beta" else v) for k, v in signed]
    assert bedrock.bad_signature(as_received(bedrock, tampered))


def test_wrong_credentials_do_not_verify(bedrock: BedrockUpstream) -> None:
    env = bedrock.credentials_env() | {"AWS_SECRET_ACCESS_KEY": "wrong"}
    signed = sign_bedrock(bedrock, env=env)
    assert "signature we calculated does not match" in (
        bedrock.bad_signature(as_received(bedrock, signed)) or ""
    )


def test_no_aws_credentials_is_an_upstream_error(
    bedrock: BedrockUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    with pytest.raises(UpstreamError, match="no AWS credentials for upstream bedrock"):
        sign_bedrock(bedrock, env={})


def test_a_profile_is_read_from_the_shared_files(
    bedrock: BedrockUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[team]\naws_access_key_id = {bedrock.access_key}\n"
                           f"aws_secret_access_key = {bedrock.secret_key}\n"
                           f"aws_session_token = {bedrock.session_token}\n")  # fmt: skip
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    signer = signer_for(bedrock_upstream(profile="team"), {"AWS_ACCESS_KEY_ID": "AKIAIGNORED"})
    assert signer is not None
    signed = asyncio.run(signer.sign("POST", bedrock.base_url + PATH, list(HEADERS), BODY))
    assert bedrock.bad_signature(as_received(bedrock, signed)) is None
    with pytest.raises(ConfigError, match="aws_profile 'nobody' is not an AWS profile"):
        signer_for(bedrock_upstream(profile="nobody"), {})


def test_bedrock_needs_a_region() -> None:
    with pytest.raises(ConfigError, match=r"\[upstreams.bedrock\] api = 'bedrock' needs region"):
        signer_for(bedrock_upstream(region=None), {})


def test_key_header_apis_have_no_signer() -> None:
    assert signer_for(Upstream("a", "anthropic", "http://x", "K", "anthropic"), {}) is None


# --- Vertex ----------------------------------------------------------------------------------


def account_file(vertex: VertexUpstream, tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(vertex.service_account()))
    return path


async def sign_many(vertex: VertexUpstream, path: Path, n: int) -> list[Headers]:
    signer = signer_for(vertex_upstream(path), {})
    assert signer is not None
    calls = [signer.sign("POST", "http://unused", [], b"") for _ in range(n)]
    return list(await asyncio.gather(*calls))


def test_a_token_is_fetched_once_and_kept(vertex: VertexUpstream, tmp_path: Path) -> None:
    signed = asyncio.run(sign_many(vertex, account_file(vertex, tmp_path), 20))
    assert len(vertex.token_requests) == 1  # twenty concurrent calls wait for one refresh
    tokens = {dict(headers)[b"authorization"] for headers in signed}
    assert len(tokens) == 1
    token = tokens.pop().decode().removeprefix("Bearer ")
    assert token in vertex.issued  # the fake issued it: the JWT assertion verified


def test_a_token_near_expiry_is_refreshed(tmp_path: Path) -> None:
    with VertexUpstream(token_lifetime=60) as vertex:  # under google-auth's refresh margin
        asyncio.run(sign_many(vertex, account_file(vertex, tmp_path), 1))
        asyncio.run(sign_many(vertex, account_file(vertex, tmp_path), 1))
        assert len(vertex.token_requests) == 2


def test_the_default_credentials_file_is_google_application_credentials(
    vertex: VertexUpstream, tmp_path: Path
) -> None:
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(account_file(vertex, tmp_path))}
    signer = signer_for(vertex_upstream(None), env)
    assert signer is not None
    asyncio.run(signer.sign("POST", "http://unused", [], b""))
    assert len(vertex.token_requests) == 1


def test_a_failing_token_endpoint_is_an_upstream_error(
    vertex: VertexUpstream, tmp_path: Path
) -> None:
    vertex.token_status = 500
    with pytest.raises(UpstreamError, match=f"Google access token .* from {vertex.token_uri}"):
        asyncio.run(sign_many(vertex, account_file(vertex, tmp_path), 1))


def test_an_unreachable_token_endpoint_is_an_upstream_error(tmp_path: Path) -> None:
    vertex = VertexUpstream().start()
    path = account_file(vertex, tmp_path)
    vertex.stop()
    with pytest.raises(UpstreamError, match="cannot get a Google access token"):
        asyncio.run(sign_many(vertex, path, 1))


def test_vertex_credentials_are_checked_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a service-account JSON"):
        signer_for(vertex_upstream(None), {})
    with pytest.raises(ConfigError, match="cannot read the service account"):
        signer_for(vertex_upstream(tmp_path / "missing.json"), {})
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "service_account"}')
    with pytest.raises(ConfigError, match="cannot read the service account"):
        signer_for(vertex_upstream(bad), {})
