"""Incremental Server-Sent Events splitting: bytes in, complete ``(event, data)`` pairs out."""

from __future__ import annotations


class EventSplitter:
    """Splits a byte stream into events at blank lines (``\\n\\n``; ``\\r\\n`` accepted)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        *complete, self._buffer = buffer.split(b"\n\n")
        return [event for raw in complete if (event := _parse(raw)) is not None]

    def flush(self) -> list[tuple[str, str]]:
        """The last event of a stream that ended without its blank line."""
        raw, self._buffer = self._buffer, b""
        event = _parse(raw.rstrip(b"\r\n"))
        return [] if event is None else [event]


def _parse(raw: bytes) -> tuple[str, str] | None:
    name, data = "message", []
    for line in raw.decode("utf-8", "replace").split("\n"):
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return (name, "\n".join(data)) if data else None
