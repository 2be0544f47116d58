"""Token counts for an answer whose vendor reported none, estimated from what was recorded.

An OpenAI Chat Completions stream carries usage only when the client asks for it
(``stream_options.include_usage``); aider, LangChain and plain SDK streaming do not, and the
gateway never adds it (it does not alter requests). Such an answer is recorded with estimated
counts, flagged ``estimated`` (:attr:`distillguard.model.Usage.estimated`, the ledger's
``usage_estimated``), and never shown as exact.

The method, the same for every model and offline: a token is taken to be 4 bytes of UTF-8
(:data:`BYTES_PER_TOKEN`), rounded up.

- output: the recorded text (reasoning, content and what tool calls added);
- input: the request body as the client sent it, re-encoded as compact JSON (messages, system
  prompt, tool definitions; JSON's quotes and keys stand in for the per-message tokens the
  vendor adds).

Four bytes a token is the vendors' own rule of thumb for English; code and other languages
take more tokens per byte, so an estimate can be off by a quarter either way, and a reasoning
model's hidden reasoning tokens (billed as output, never streamed) are not in it at all. It is
an estimate of what was billed, not a count: budgets keep charging such a call its
reservation, and ``distillguard usage reconcile`` holds the totals against the vendor's own
usage export where it matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from distillguard.capture.wire.base import Reply
from distillguard.model import Usage

BYTES_PER_TOKEN = 4


def tokens_of(data: bytes) -> int:
    """The estimated token count of ``data``: its bytes / :data:`BYTES_PER_TOKEN`, rounded up."""
    return -(-len(data) // BYTES_PER_TOKEN)


def request_tokens(body: Mapping[str, Any] | None) -> int | None:
    """The estimated input tokens of a request body; None without a body."""
    if not body:
        return None
    try:
        return tokens_of(orjson.dumps(body))
    except TypeError:  # a body that is not JSON data (never one the gateway parsed)
        return None


def usage_of(reply: Reply, body: Mapping[str, Any] | None) -> Usage:
    """The reply's usage when the vendor reported any count, or when no parser read the reply
    (a raw body is no measure of what the model wrote); otherwise counts estimated from the
    recorded text (output) and the request ``body`` (input), flagged ``estimated``."""
    usage = reply.tokens
    if usage.reported or reply.unparsed:
        return usage
    output = tokens_of(reply.text.encode("utf-8", "surrogatepass"))
    return Usage(input=request_tokens(body), output=output, estimated=True)
