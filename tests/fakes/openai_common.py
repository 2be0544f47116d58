"""What the OpenAI APIs share: response headers, the error body, the model list."""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.script import Failure, new_id
from tests.fakes.wire import Rendered, json_response

ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}
MODELS = ("gpt-5", "gpt-5-codex", "gpt-4.1")


def headers() -> tuple[tuple[str, str], ...]:
    return (
        ("x-request-id", new_id("req")),
        ("openai-organization", "fake-org"),
        ("openai-processing-ms", "3"),
        ("openai-version", "2020-10-01"),
    )


def error_body(failure: Failure) -> dict[str, Any]:
    kind, code = ERRORS.get(failure.status, ("server_error", None))
    return {
        "error": {
            "message": failure.message,
            "type": failure.type or kind,
            "param": None,
            "code": failure.code or code,
        }
    }


def models() -> Rendered:
    created = int(time.time())
    data = [{"id": m, "object": "model", "created": created, "owned_by": "openai"} for m in MODELS]
    return json_response(200, {"object": "list", "data": data}, headers())
