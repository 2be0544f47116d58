"""Answers no parser reads, recorded as they came: the body's text, flagged ``unparsed``.

A model call answered in a content type no parser knows (``text/plain`` or
``application/x-ndjson`` from a proxy) is recorded raw instead of refused; so is a JSON answer
that is not JSON after all. The text is the body decoded as UTF-8 (an invalid byte becomes
U+FFFD), so whatever model text it holds is fingerprinted like any other output.
"""

from __future__ import annotations

from distillguard.capture.wire.base import Parser, Reply


def raw_reply(body: bytes) -> Reply:
    """``body`` as an unparsed answer (empty when the body is)."""
    reply = Reply(unparsed=True, complete=True)
    reply.add_text(body.decode("utf-8", "replace"))
    return reply


class Raw:
    """Collects the body; the answer is its text."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def feed(self, chunk: bytes) -> bool:
        self._chunks.append(chunk)
        return False

    def reply(self) -> Reply:
        return raw_reply(b"".join(self._chunks))


class OrRaw:
    """A non-streamed answer read by ``parser``; recorded raw when the parser finds neither
    text nor an id in it because it is malformed (a proxy's error page sent as JSON)."""

    def __init__(self, parser: Parser) -> None:
        self._parser = parser
        self._raw = Raw()

    def feed(self, chunk: bytes) -> bool:
        self._raw.feed(chunk)
        return self._parser.feed(chunk)

    def reply(self) -> Reply:
        reply = self._parser.reply()
        if reply.malformed and not (reply.parts or reply.message_id):
            return self._raw.reply()
        return reply
