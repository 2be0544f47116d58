"""Google Gemini API: ``generateContent`` and ``streamGenerateContent``, what a request quotes.

Every answer is made of ``GenerateContentResponse`` objects: ``candidates[]`` (each with an
``index``, left out when 0, ``content.parts[]`` and, on its last piece, a ``finishReason``),
``usageMetadata``, ``modelVersion`` and ``responseId``. ``generateContent`` answers one of them
as a JSON body; ``streamGenerateContent`` answers several, as SSE (``?alt=sse``: one
``data: {...}`` event each, no terminal event) or, by default, as the elements of one JSON array
sent piece by piece (``[{...}\\n,\\r\\n{...}\\n]``). A stream's text parts are deltas, to be
joined; a ``functionCall`` part is whole (``name`` and ``args``); a part with ``thought: true``
is a thought summary; an ``executableCode`` part is code the model wrote.

Usage (``usageMetadata``, cumulative: each chunk's replaces the last): ``promptTokenCount``
includes ``cachedContentTokenCount``, which is priced apart; ``candidatesTokenCount`` leaves out
``thoughtsTokenCount``, which is billed as output. So ``input`` is the prompt less the cached
tokens plus ``toolUsePromptTokenCount``, ``output`` the candidates plus the thoughts, and
``reasoning`` the thoughts alone (as OpenAI's ``reasoning_tokens`` within its output).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from distillguard.capture.wire.base import (
    EventStream,
    Reply,
    as_dict,
    as_int,
    as_list,
    loads,
)
from distillguard.model import Usage

#: kind -> Google's ``status`` (the canonical gRPC code name) of a gateway refusal: Google's
#: error format, shared by Gemini and Vertex.
STATUSES = {
    "authentication": "UNAUTHENTICATED", "permission": "PERMISSION_DENIED",
    "not_found": "NOT_FOUND", "budget": "RESOURCE_EXHAUSTED", "bad_request": "INVALID_ARGUMENT",
    "too_large": "INVALID_ARGUMENT", "slow_client": "DEADLINE_EXCEEDED",
    "upstream": "UNAVAILABLE", "timeout": "DEADLINE_EXCEEDED", "config": "INTERNAL",
}  # fmt: skip


def error(kind: str, status: int, message: str) -> dict[str, Any]:
    """Google's error body for a gateway refusal of ``kind``."""
    return {"error": {"code": status, "message": message, "status": STATUSES[kind]}}


#: ``/{version}/models/{model}:{method}`` (also ``tunedModels``).
_MODEL_PATH = re.compile(r"^/[^/]+/(?:models|tunedModels)/(?P<model>[^/:]+):[A-Za-z]+$")


def path_model(path: str) -> str | None:
    """The model a call names in its path: ``/v1beta/models/gemini-2.5-pro:generateContent``
    -> ``gemini-2.5-pro``."""
    found = _MODEL_PATH.match(path)
    return found["model"] if found else None


# --- Rebuilding an answer from its GenerateContentResponse objects ----------------------------


@dataclass
class _Candidate:
    """One candidate's pieces, in order: ``(kind, value)`` with kind ``thought``, ``text`` or
    ``code`` (a text piece) or ``call`` (``(name, args)``)."""

    pieces: list[tuple[str, Any]] = field(default_factory=list)
    finished: bool = False

    def add(self, part: dict[str, Any]) -> None:
        call = as_dict(part.get("functionCall"))
        code = as_dict(part.get("executableCode")).get("code")
        if call:
            self.pieces.append(("call", (call.get("name"), call.get("args") or {})))
        elif isinstance(code, str):
            self.pieces.append(("code", code))
        elif isinstance(part.get("text"), str):
            self.pieces.append(("thought" if part.get("thought") is True else "text", part["text"]))

    def build(self, reply: Reply) -> None:
        """Consecutive text pieces of one kind are one part (a stream's deltas joined)."""
        kind, texts = "", []
        for piece_kind, value in [*self.pieces, ("end", None)]:
            if piece_kind == kind and kind != "call":
                texts.append(value)
                continue
            reply.add_text("".join(texts))
            kind, texts = piece_kind, []
            if piece_kind == "call":
                reply.add_tool(*value)
            elif piece_kind != "end":
                texts.append(value)


class _Answer:
    """The candidates and usage of an answer, taken one response object at a time."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self._candidates: dict[int, _Candidate] = {}

    def take(self, response: dict[str, Any]) -> bool:
        """One ``GenerateContentResponse``; True when it ends the answer (every candidate
        has its finish reason, or the prompt was blocked)."""
        reply = self.reply
        reply.message_id = reply.message_id or response.get("responseId")
        reply.model = reply.model or response.get("modelVersion")
        if "usageMetadata" in response:
            set_usage(reply.tokens, response["usageMetadata"])
        for position, raw in enumerate(as_list(response.get("candidates"))):
            candidate = as_dict(raw)
            index = as_int(candidate.get("index"))
            state = self._candidates.setdefault(position if index is None else index, _Candidate())
            for part in as_list(as_dict(candidate.get("content")).get("parts")):
                state.add(as_dict(part))
            state.finished = state.finished or bool(candidate.get("finishReason"))
        if as_dict(response.get("promptFeedback")).get("blockReason"):
            return True
        states = self._candidates.values()
        return bool(states) and all(state.finished for state in states)

    def build(self) -> Reply:
        reply = self.reply
        reply.parts, reply.quoted, reply.tool_calls = [], [], []
        for index in sorted(self._candidates):
            self._candidates[index].build(reply)
        return reply


def set_usage(tokens: Usage, usage: Any) -> None:
    """``usageMetadata`` into ``tokens`` (see the module docstring for the mapping)."""
    usage = as_dict(usage)
    prompt = as_int(usage.get("promptTokenCount"))
    cached = as_int(usage.get("cachedContentTokenCount")) or 0
    tool_prompt = as_int(usage.get("toolUsePromptTokenCount")) or 0
    if prompt is not None:
        tokens.input, tokens.cache_read = max(prompt - cached, 0) + tool_prompt, cached
    candidates = as_int(usage.get("candidatesTokenCount"))
    thoughts = as_int(usage.get("thoughtsTokenCount"))
    if candidates is not None or thoughts is not None:
        tokens.output = (candidates or 0) + (thoughts or 0)
    if thoughts is not None:
        tokens.reasoning = thoughts


def from_body(reply: Reply, body: dict[str, Any]) -> None:
    """A ``generateContent`` answer: one response object."""
    answer = _Answer(reply)
    answer.take(body)
    answer.build()


# --- Streams ---------------------------------------------------------------------------------


class Stream(EventStream):
    """``streamGenerateContent?alt=sse``: one response object per ``data:`` event."""

    def __init__(self) -> None:
        super().__init__()
        self._answer = _Answer(self._reply)

    def reply(self) -> Reply:
        self._flush()
        return self._answer.build()

    def _event(self, name: str, data: str) -> bool:
        return _take(self._answer, loads(data))


class ArrayStream:
    """``streamGenerateContent`` without ``alt=sse``: the response objects as the elements
    of one JSON array, each read as soon as it closes."""

    def __init__(self) -> None:
        self._reply = Reply()
        self._answer = _Answer(self._reply)
        self._elements = ArraySplitter()

    def feed(self, chunk: bytes) -> bool:
        final = False
        for element in self._elements.feed(chunk):
            final = _take(self._answer, loads(element)) or final
        return final

    def reply(self) -> Reply:
        if self._elements.truncated:
            self._reply.malformed += 1
        return self._answer.build()


def _take(answer: _Answer, response: Any) -> bool:
    """One streamed response object; a mid-stream ``{"error": ...}`` ends nothing."""
    if not isinstance(response, dict):
        answer.reply.malformed += 1
        return False
    if "error" in response and "candidates" not in response:
        return False
    final = answer.take(response)
    if final:
        answer.reply.complete = True
    return final


_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


class ArraySplitter:
    """Splits a JSON array arriving in pieces into the text of its object elements, each as
    soon as it closes. Only the bytes that change the nesting are looked at (brackets, braces,
    quotes and escapes), found with one regular expression per chunk."""

    def __init__(self) -> None:
        self._buffer = b""
        self._scanned = 0
        self._depth = 0
        self._in_string = False
        self._escaped_until = 0
        self._start = -1

    @property
    def truncated(self) -> bool:
        """Whether an element was opened and never closed."""
        return self._start >= 0

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        elements: list[bytes] = []
        for match in _STRUCTURE.finditer(self._buffer, self._scanned):
            at = match.start()
            if at >= self._escaped_until:
                self._step(at, elements)
        self._scanned = len(self._buffer)
        self._trim()
        return elements

    def _step(self, at: int, elements: list[bytes]) -> None:
        byte = self._buffer[at : at + 1]
        if self._in_string:
            if byte == b"\\":
                self._escaped_until = at + 2
            elif byte == b'"':
                self._in_string = False
        elif byte == b'"':
            self._in_string = True
        elif byte in (b"[", b"{"):
            self._depth += 1
            if self._depth == 2 and byte == b"{":
                self._start = at
        elif byte in (b"]", b"}"):
            self._depth -= 1
            if self._depth == 1 and self._start >= 0:
                elements.append(self._buffer[self._start : at + 1])
                self._start = -1

    def _trim(self) -> None:
        """Drop what no element still needs."""
        cut = self._start if self._start >= 0 else len(self._buffer)
        self._buffer = self._buffer[cut:]
        self._scanned -= cut
        self._escaped_until = max(self._escaped_until - cut, 0)
        if self._start >= 0:
            self._start = 0


# --- What a request quotes -------------------------------------------------------------------


def request_text(body: dict[str, Any]) -> list[str]:
    """The new non-model content of this call: the text and function responses of the
    ``contents`` after the last ``model`` turn; never the system instruction."""
    contents = [as_dict(c) for c in as_list(body.get("contents"))]
    last = max((i for i, c in enumerate(contents) if c.get("role") == "model"), default=-1)
    texts: list[str] = []
    for content in contents[last + 1 :]:
        for part in as_list(content.get("parts")):
            texts.extend(_part_text(as_dict(part)))
    return texts


def _part_text(part: dict[str, Any]) -> list[str]:
    if isinstance(part.get("text"), str) and part["text"] and part.get("thought") is not True:
        return [part["text"]]
    response = as_dict(part.get("functionResponse")).get("response")
    return _strings(response)


def _strings(value: Any) -> list[str]:
    """The non-empty strings in ``value`` (nested lists and dicts), in order."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
