"""Batch results: JSONL whose every line answers one request of a batch, each line an output.

Anthropic ``GET /v1/messages/batches/{id}/results``: ``{"custom_id", "result": {"type":
"succeeded", "message": {a Messages body}}}`` (``errored``, ``canceled``, ``expired``: no
answer). OpenAI ``GET /v1/files/{id}/content`` of a batch's output file: ``{"id", "custom_id",
"response": {"status_code", "request_id", "body"}, "error"}``, the body a ``chat.completion``, a
``response`` or a ``text_completion`` (an embeddings ``list`` holds no text). That endpoint
serves every other file too: a batch's input lines (``custom_id``, ``method``, ``url``,
``body``: the caller's own requests) are not outputs; any other line is kept and recorded raw
(unparsed), since it may hold model text.

Each output's ``source_id`` is ``batch:{batch or file id}:{custom_id}`` and its idempotency key
the message/response id inside, so results fetched twice are recorded once. Lines are read as
they arrive (:meth:`Lines.take`), so a batch of any size is spooled line by line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distillguard.capture.wire import anthropic, openai_chat, openai_completions, openai_responses
from distillguard.capture.wire.base import Reply, as_dict, as_int, loads
from distillguard.capture.wire.raw import raw_reply

#: A line's reading: ``(known, reply)``; known with no reply: a line that answers nothing.
Reading = tuple[bool, Reply | None]
_BODIES: dict[str, Callable[[Reply, dict[str, Any]], None]] = {
    "chat.completion": openai_chat.from_body,
    "response": openai_responses.from_body,
    "text_completion": openai_completions.from_body,
}
_NO_TEXT = frozenset({"list"})  # embeddings


@dataclass(frozen=True)
class Item:
    """One output of a batch: where it came from and the answer."""

    source_id: str
    reply: Reply


class Lines:
    """A JSONL body read line by line with ``read`` (one vendor's line format)."""

    def __init__(self, source: str, read: Callable[[dict[str, Any]], Reading]) -> None:
        self.source = source
        self._read = read
        self._partial: list[bytes] = []
        self._ready: list[Item] = []
        self._unknown: list[bytes] = []

    def feed(self, chunk: bytes) -> bool:
        if b"\n" not in chunk:
            self._partial.append(chunk)
            return False
        head, *middle, tail = chunk.split(b"\n")
        self._line(b"".join([*self._partial, head]))
        for line in middle:
            self._line(line)
        self._partial = [tail] if tail else []
        return False

    def take(self, final: bool = False) -> list[Item]:
        """The outputs read since the last call; ``final`` (the body has ended): the last
        line too, and the lines of no known shape as one raw output."""
        if final:
            self._line(b"".join(self._partial))
            self._partial = []
            if self._unknown:
                raw = raw_reply(b"\n".join(self._unknown))
                self._ready.append(Item(f"batch:{self.source}", raw))
                self._unknown = []
        ready, self._ready = self._ready, []
        return ready

    def reply(self) -> Reply:
        """The lines of no known shape, as read so far (:meth:`take` gives the outputs)."""
        return raw_reply(b"\n".join(self._unknown))

    def _line(self, raw: bytes) -> None:
        if not raw.strip():
            return
        line = loads(raw)
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        known, reply = self._read(line) if isinstance(custom_id, str) else (False, None)
        if not known:
            self._unknown.append(raw)
        elif reply is not None:
            self._ready.append(Item(f"batch:{self.source}:{custom_id}", reply))


def anthropic_line(line: dict[str, Any]) -> Reading:
    """A Messages batch result: the message of a ``succeeded`` one."""
    result = as_dict(line.get("result"))
    kind = result.get("type")
    if kind in ("errored", "canceled", "expired"):
        return True, None
    if kind != "succeeded" or not isinstance(result.get("message"), dict):
        return False, None
    return True, _built(anthropic.from_body, result["message"])


def openai_line(line: dict[str, Any]) -> Reading:
    """A line of an OpenAI batch's output (or error, or input) file."""
    if {"method", "url", "body"} <= line.keys():
        return True, None  # an input line: the caller's request
    response = line.get("response")
    if response is None and line.get("error") is not None:
        return True, None
    response = as_dict(response)
    status, body = as_int(response.get("status_code")), response.get("body")
    if status is None or not isinstance(body, dict):
        return False, None
    if not 200 <= status < 300 or body.get("object") in _NO_TEXT:
        return True, None
    build = _BODIES.get(str(body.get("object")))
    return (True, _built(build, body)) if build else (False, None)


def _built(build: Callable[[Reply, dict[str, Any]], None], body: dict[str, Any]) -> Reply:
    reply = Reply()
    build(reply, body)
    reply.complete = True
    return reply


def anthropic_results(path: str) -> Lines:
    """``/v1/messages/batches/{id}/results``."""
    return Lines(path.rstrip("/").split("/")[-2], anthropic_line)


def openai_file(path: str) -> Lines:
    """``/v1/files/{id}/content``."""
    return Lines(path.rstrip("/").split("/")[-2], openai_line)
