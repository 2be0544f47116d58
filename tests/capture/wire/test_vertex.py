"""Vertex AI's wire format for Claude: routes, the model in the path, parsers, refusals."""

from __future__ import annotations

import pytest

from distillguard.capture.wire import anthropic, gemini, vertex
from distillguard.capture.wire.api import APIS, ERROR_KINDS

BASE = "/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models"


def test_routes_model_calls_metadata_and_the_rest() -> None:
    api = APIS["vertex"]
    assert api.is_recorded(f"{BASE}/claude-sonnet-4-5@20250929:streamRawPredict", "POST")
    assert api.is_recorded(f"{BASE}/claude-sonnet-4-5@20250929:rawPredict", "POST")
    assert not api.is_recorded(f"{BASE}/claude-sonnet-4-5@20250929:rawPredict", "GET")
    assert api.is_metadata(f"{BASE}/count-tokens:rawPredict", "POST")
    assert not api.is_recorded(f"{BASE}/count-tokens:rawPredict", "POST")
    gemini = "/v1/projects/p/locations/r/publishers/google/models/gemini-2.5-pro:generateContent"
    for other in (gemini, f"{BASE}/claude-x:predict", f"{BASE}/claude-x:batchPredict"):
        assert not api.is_recorded(other, "POST") and not api.is_metadata(other, "POST")
    assert api.key_header is None


def test_the_model_is_read_from_the_path() -> None:
    assert vertex.path_model(f"{BASE}/claude-sonnet-4-5@20250929:rawPredict") == (
        "claude-sonnet-4-5@20250929"
    )
    assert vertex.path_model(f"{BASE}/claude-haiku-4-5%4020251001:streamRawPredict") == (
        "claude-haiku-4-5@20251001"
    )
    assert vertex.path_model(f"{BASE}/count-tokens:rawPredict") is None


def test_parsers_by_content_type() -> None:
    assert isinstance(vertex.parser("p", "text/event-stream; charset=utf-8"), anthropic.Stream)
    assert vertex.parser("p", "application/json") is not None
    assert vertex.parser("p", "text/html") is None


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_refusals_are_in_googles_error_format(kind: str) -> None:
    error = APIS["vertex"].error(kind, 403, "why")
    assert error.body == {"error": {"code": 403, "message": "why",
                                    "status": gemini.STATUSES[kind]}}  # fmt: skip
