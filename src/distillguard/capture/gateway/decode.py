"""Undo a response's Content-Encoding for the parser (the client still gets the bytes as sent),
and ask the vendor only for encodings this module can undo."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import zstandard

Decoder = Callable[[bytes], bytes]
#: The content codings :func:`decoder_for` reads (brotli is not one of them).
READABLE = frozenset({"identity", "gzip", "x-gzip", "deflate", "zstd"})


def _identity(chunk: bytes) -> bytes:
    return chunk


def _wrap(decompress: Callable[..., Any]) -> Decoder:
    def decode(chunk: bytes) -> bytes:
        return bytes(decompress(chunk))

    return decode


def decoder_for(content_encoding: str) -> Decoder | None:
    """A decoder for ``content_encoding``; None when it is not supported (brotli, stacked)."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return _identity
    if encoding in ("gzip", "x-gzip"):
        return _wrap(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress)
    if encoding == "deflate":
        return _wrap(zlib.decompressobj().decompress)
    if encoding == "zstd":
        return _wrap(zstandard.ZstdDecompressor().decompressobj().decompress)
    return None


def accept_encoding(value: bytes) -> bytes:
    """The client's ``Accept-Encoding`` less every coding the recorder cannot read.

    Each element is ``coding[;q=...]`` (RFC 9110 12.5.3, codings compared case-insensitively);
    elements naming another coding, and ``*`` (which lets the vendor pick any), are dropped
    with their parameters. When nothing readable is left, ``identity`` (no coding) is asked for.
    """
    kept = []
    for element in value.split(b","):
        coding = element.split(b";", 1)[0].strip().lower().decode("latin-1")
        if coding in READABLE:
            kept.append(element.strip())
    return b", ".join(kept) or b"identity"
