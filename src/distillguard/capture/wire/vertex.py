"""Claude on Google Vertex AI: ``rawPredict`` and ``streamRawPredict``.

``POST /v1/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:rawPredict`` takes
Anthropic's Messages JSON without ``model`` (the path names it: ``claude-sonnet-4-5@20250929``)
and with ``"anthropic_version": "vertex-2023-10-16"``, and answers a Messages JSON body;
``:streamRawPredict`` answers Anthropic's SSE stream. ``models/count-tokens:rawPredict`` counts
tokens (a body with ``model``, no model text in the answer). Errors are Google's:
``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from distillguard.capture.wire import anthropic
from distillguard.capture.wire.base import JsonBody, Parser

_MODELS = "POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/"
#: Every Claude model on Vertex is named ``claude-...`` (``count-tokens`` is not a model).
RECORDED = (_MODELS + "claude-{model}:rawPredict", _MODELS + "claude-{model}:streamRawPredict")
METADATA = (_MODELS + "count-tokens:rawPredict",)
_MODEL = re.compile(r"/publishers/anthropic/models/([^/:]+):(?:stream)?[rR]awPredict$")


def path_model(path: str) -> str | None:
    """The model the path names (decoded), else None (``count-tokens`` names it in the body)."""
    found = _MODEL.search(path)
    if found is None or found.group(1) == "count-tokens":
        return None
    return unquote(found.group(1))


def parser(path: str, content_type: str) -> Parser | None:
    """Anthropic's SSE stream or JSON body; None for any other answer."""
    if content_type.startswith("text/event-stream"):
        return anthropic.Stream()
    return JsonBody(anthropic.from_body) if content_type.startswith("application/json") else None
