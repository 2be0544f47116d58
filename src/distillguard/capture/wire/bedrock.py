"""Claude on Amazon Bedrock: ``InvokeModel`` and ``InvokeModelWithResponseStream``.

``POST /model/{modelId}/invoke`` takes and answers Anthropic's Messages JSON (the body carries
``anthropic_version`` and no ``model``: the path names it, percent-encoded, e.g.
``us.anthropic.claude-sonnet-4-5-20250929-v1%3A0``). ``/invoke-with-response-stream`` answers
``application/vnd.amazon.eventstream``: binary frames, each a 12-byte prelude (total length,
headers length, CRC32 of those 8 bytes; big-endian), typed headers (``:message-type`` ``event``
or ``exception``, ``:event-type`` ``chunk``), a JSON payload ``{"bytes": base64}`` whose bytes
are one Anthropic stream event, and a CRC32 of the whole frame. The last event,
``message_stop``, may carry ``amazon-bedrock-invocationMetrics`` (token counts), which fill
any count the events left out. An ``exception`` frame ends the stream without its last event.
Errors are ``{"message": ...}`` with the type in the ``x-amzn-errortype`` header.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from distillguard.capture.wire import anthropic
from distillguard.capture.wire.base import JsonBody, Parser, as_dict, as_int, loads

RECORDED = ("POST /model/{model}/invoke", "POST /model/{model}/invoke-with-response-stream")
METADATA = ("POST /model/{model}/count-tokens",)
EVENT_STREAM = "application/vnd.amazon.eventstream"
_MODEL = re.compile(r"^/model/([^/]+)/(?:invoke|invoke-with-response-stream|count-tokens)$")
_PRELUDE = 12
#: A frame larger than this is not Bedrock's (its limit is 16 MiB): the stream is unreadable.
MAX_FRAME = 16 * 2**20 + 1024
#: kind -> AWS error type (``x-amzn-errortype``).
ERRORS = {
    "authentication": "UnrecognizedClientException", "permission": "AccessDeniedException",
    "not_found": "ResourceNotFoundException", "budget": "ServiceQuotaExceededException",
    "bad_request": "ValidationException", "too_large": "ValidationException",
    "slow_client": "ValidationException", "upstream": "ServiceUnavailableException",
    "timeout": "ModelTimeoutException", "config": "InternalServerException",
}  # fmt: skip
#: invocationMetrics field -> Usage attribute
_METRICS = (
    ("input", "inputTokenCount"),
    ("output", "outputTokenCount"),
    ("cache_read", "cacheReadInputTokenCount"),
    ("cache_write", "cacheWriteInputTokenCount"),
)


def path_model(path: str) -> str | None:
    """The model id the path names (decoded: ``...-v1:0``), else None."""
    found = _MODEL.match(path)
    return unquote(found.group(1)) if found else None


def parser(path: str, content_type: str) -> Parser | None:
    """The event-stream parser, or a JSON body's; None for any other answer."""
    if content_type.startswith(EVENT_STREAM):
        return Stream()
    return JsonBody(anthropic.from_body) if content_type.startswith("application/json") else None


def error(kind: str, message: str) -> tuple[dict[str, Any], tuple[tuple[bytes, bytes], ...]]:
    """Bedrock's error body and header for a gateway refusal of ``kind``."""
    return {"message": message}, ((b"x-amzn-errortype", ERRORS[kind].encode()),)


@dataclass(frozen=True)
class Frame:
    """One event-stream message: its string headers and its payload."""

    headers: dict[str, str]
    payload: bytes


class FrameError(ValueError):
    """Bytes that are not an event stream (a bad length or checksum)."""


class FrameSplitter:
    """Bytes in, complete frames out; raises :class:`FrameError` on a corrupt frame."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> Iterator[Frame]:
        self._buffer += chunk
        while len(self._buffer) >= _PRELUDE:
            total, headers_length, prelude_crc = struct.unpack_from(">III", self._buffer)
            if binascii.crc32(self._buffer[:8]) != prelude_crc:
                raise FrameError("event-stream prelude checksum mismatch")
            if not 16 <= total <= MAX_FRAME or headers_length > total - 16:
                raise FrameError(f"event-stream frame of {total} bytes")
            if len(self._buffer) < total:
                return
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            yield decode(frame, headers_length)


def decode(frame: bytes, headers_length: int) -> Frame:
    """One whole frame (checksums checked)."""
    (message_crc,) = struct.unpack_from(">I", frame, len(frame) - 4)
    if binascii.crc32(frame[:-4]) != message_crc:
        raise FrameError("event-stream message checksum mismatch")
    end = _PRELUDE + headers_length
    return Frame(_headers(frame[_PRELUDE:end]), frame[end:-4])


#: header value type -> fixed size (types 6 and 7, bytes and string, carry a 2-byte length)
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


def _headers(raw: bytes) -> dict[str, str]:
    """The string-valued headers (others are skipped)."""
    found: dict[str, str] = {}
    i = 0
    try:
        while i < len(raw):
            name_length = raw[i]
            name = raw[i + 1 : i + 1 + name_length].decode("utf-8")
            kind = raw[i + 1 + name_length]
            i += 2 + name_length
            if kind in (6, 7):
                (length,) = struct.unpack_from(">H", raw, i)
                if kind == 7:
                    found[name] = raw[i + 2 : i + 2 + length].decode("utf-8")
                i += 2 + length
            elif kind in _FIXED:
                i += _FIXED[kind]
            else:
                raise FrameError(f"event-stream header type {kind}")
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise FrameError(f"event-stream headers: {exc}") from None
    return found


class Stream(anthropic.Stream):
    """An ``invoke-with-response-stream`` answer: frames -> Anthropic stream events."""

    def __init__(self) -> None:
        super().__init__()
        self._frames = FrameSplitter()
        self._broken = False

    def feed(self, chunk: bytes) -> bool:
        if self._broken:
            return False
        final = False
        try:
            for frame in self._frames.feed(chunk):
                final = self._frame(frame) or final
        except FrameError:
            self._reply.malformed += 1
            self._broken = True  # the rest cannot be framed
        return final

    def _frame(self, frame: Frame) -> bool:
        if frame.headers.get(":message-type") != "event":
            return False  # an exception frame: the answer ends without its last event
        if frame.headers.get(":event-type") != "chunk":
            return False
        data = as_dict(loads(frame.payload)).get("bytes")
        try:
            event = base64.b64decode(data, validate=True) if isinstance(data, str) else None
        except binascii.Error:
            event = None
        if event is None:
            self._reply.malformed += 1
            return False
        self._metrics(loads(event))
        return self._event("chunk", event.decode("utf-8", "replace"))

    def _metrics(self, event: Any) -> None:
        metrics = as_dict(as_dict(event).get("amazon-bedrock-invocationMetrics"))
        tokens = self._reply.tokens
        for attr, key in _METRICS:
            value = as_int(metrics.get(key))
            if value is not None and getattr(tokens, attr) is None:
                setattr(tokens, attr, value)
