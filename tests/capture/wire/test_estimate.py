"""Estimated usage: the stated method (UTF-8 bytes / 4, rounded up), only when none came."""

from __future__ import annotations

import orjson

from distillguard.capture.wire import estimate
from distillguard.capture.wire.base import Reply
from distillguard.model import Usage

BODY = {"model": "gpt-5.4", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def test_counts_are_bytes_over_four_rounded_up() -> None:
    assert [estimate.tokens_of(b"x" * n) for n in (0, 1, 4, 5, 8)] == [0, 1, 1, 2, 2]
    assert estimate.tokens_of("é".encode()) == 1  # bytes, not characters


def test_an_answer_without_usage_is_estimated_and_flagged() -> None:
    reply = Reply(parts=["def f():", "    return 1  # ünïcode"])
    usage = estimate.usage_of(reply, BODY)
    assert usage.estimated
    assert usage.output == -(-len(reply.text.encode()) // 4)
    assert usage.input == -(-len(orjson.dumps(BODY)) // 4)
    assert usage.cache_read is None and usage.reasoning is None


def test_reported_usage_is_kept_as_it_is() -> None:
    reported = Usage(input=10, output=0)
    reply = Reply(parts=["a long answer " * 50], tokens=reported)
    assert estimate.usage_of(reply, BODY) is reported and not reported.estimated


def test_an_unparsed_reply_is_not_estimated() -> None:
    reply = Reply(parts=["<html>raw body</html>"], unparsed=True)
    usage = estimate.usage_of(reply, BODY)
    assert not usage.reported and not usage.estimated


def test_no_body_no_input_estimate() -> None:
    usage = estimate.usage_of(Reply(parts=["ok"]), None)
    assert (usage.input, usage.output, usage.estimated) == (None, 1, True)
