"""Fixtures for the Vertex and Bedrock tests: the fake clouds and a gateway in front of them.

Import them in a test module: ``from tests.capture.gateway.cloud import bedrock, serve_cloud,
vertex  # noqa: F401``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.capture.gateway.conftest import Served
from tests.fakes.bedrock_api import BedrockUpstream
from tests.fakes.vendors import VendorUpstream
from tests.fakes.vertex_api import VertexUpstream


@pytest.fixture
def vertex() -> Iterator[VertexUpstream]:
    with VertexUpstream() as up:
        yield up


@pytest.fixture
def bedrock() -> Iterator[BedrockUpstream]:
    with BedrockUpstream() as up:
        yield up


def cloud_config(vertex: VertexUpstream, bedrock: BedrockUpstream, account: Path) -> str:
    return f"""
[upstreams.vertex]
api = "vertex"
base_url = "{vertex.base_url}"
vendor = "anthropic"
region = "us-east5"
project = "proj-1"
credentials_file = "{account}"

[upstreams.bedrock]
api = "bedrock"
base_url = "{bedrock.base_url}"
vendor = "anthropic"
region = "us-east-1"
"""


@pytest.fixture
def serve_cloud(
    make_gateway: Callable[..., Served],
    vendor_upstream: VendorUpstream,
    vertex: VertexUpstream,
    bedrock: BedrockUpstream,
    tmp_path: Path,
) -> Callable[..., Served]:
    """A gateway with ``vertex`` and ``bedrock`` upstreams at the fakes; ``aws`` overrides the
    AWS credentials in its environment."""
    account = tmp_path / "service-account.json"
    account.write_text(json.dumps(vertex.service_account()))

    def serve(**aws: str) -> Served:
        extra = cloud_config(vertex, bedrock, account)
        served = make_gateway(vendor_upstream.base_url, start=False, extra=extra)
        served.env |= bedrock.credentials_env() | aws | {"AWS_EC2_METADATA_DISABLED": "true"}
        served.start(timeout=120)  # the imports of botocore and google-auth take a while
        return served

    return serve
