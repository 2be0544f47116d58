"""What every parser produces, and how the app picks one.

A parser sees the response bytes exactly as they are forwarded; :meth:`Parser.feed` says when a
chunk holds the final event (so the app spools the output before forwarding that chunk), and
:meth:`Parser.reply` rebuilds the answer. Parsers never raise on bad input: a malformed event
is counted in ``Reply.malformed`` and skipped. What a reply holds is checked where it is set, for
every parser alike: a token count is a count (:func:`distillguard.model.token_count`: absurd ones
clamped, negative or non-integer ones dropped), a model or message id a non-empty string, so
pricing, metrics, the spool and the ledger never meet a value they cannot take.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from distillguard.capture.wire import tools
from distillguard.capture.wire.sse import EventSplitter
from distillguard.model import Usage

log = logging.getLogger("distillguard.gateway")
#: Reply fields that hold a vendor's string (None when the vendor sent anything else).
STRING_FIELDS = frozenset({"message_id", "model"})


@dataclass
class Reply:
    """An answer rebuilt from the wire: what the model added, what it quoted, its usage.
    ``unparsed``: no parser read it; its one part is the raw body (:mod:`.raw`)."""

    message_id: str | None = None
    model: str | None = None
    parts: list[str] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)
    tool_calls: list[str] = field(default_factory=list)
    tokens: Usage = field(default_factory=Usage)
    complete: bool = False
    malformed: int = 0
    unparsed: bool = False

    def __setattr__(self, name: str, value: Any) -> None:
        if name in STRING_FIELDS and not (isinstance(value, str) and value):
            value = None
        super().__setattr__(name, value)

    @property
    def text(self) -> str:
        return "\n\n".join(part for part in self.parts if part)

    def add_text(self, text: Any) -> None:
        if isinstance(text, str) and text:
            self.parts.append(text)

    def add_tool(self, name: Any, arguments: Any) -> None:
        """A tool call: ``arguments`` as a dict, a JSON string or (freeform tools) text."""
        name = name if isinstance(name, str) else ""
        added, quoted = tools.contribution(name, arguments)
        self.tool_calls.append(name)
        self.parts.extend(added)
        self.quoted.extend(quoted)


class Parser(Protocol):
    def feed(self, chunk: bytes) -> bool:
        """Take the next bytes; True when they hold the final event of the answer."""

    def reply(self) -> Reply:
        """The answer as rebuilt so far (call after the last chunk)."""


def loads(data: str | bytes) -> Any:
    """JSON, or None when it is not valid JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class JsonBody:
    """A non-streamed answer: collects the body, parses it at the end with ``build``."""

    def __init__(self, build: Any) -> None:
        self._chunks: list[bytes] = []
        self._build = build

    def feed(self, chunk: bytes) -> bool:
        self._chunks.append(chunk)
        return False

    def reply(self) -> Reply:
        reply = Reply()
        body = loads(b"".join(self._chunks))
        if not isinstance(body, dict):
            reply.malformed = 1
            return reply
        self._build(reply, body)
        reply.complete = True
        return reply


class EventStream:
    """An SSE answer read as it passes: subclasses take one event at a time in ``_event``
    (True for the final event) and build ``self._reply``."""

    def __init__(self) -> None:
        self._events = EventSplitter()
        self._reply = Reply()

    def feed(self, chunk: bytes) -> bool:
        final = False
        for name, data in self._events.feed(chunk):
            final = self._event(name, data) or final
        return final

    def _flush(self) -> None:
        """Read what is left of a stream that ended without a last blank line."""
        for name, data in self._events.flush():
            self._event(name, data)

    def _event(self, name: str, data: str) -> bool:
        raise NotImplementedError
