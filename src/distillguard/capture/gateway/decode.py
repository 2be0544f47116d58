"""Undo a response's Content-Encoding for the parser (the client still gets the bytes as sent)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import zstandard

Decoder = Callable[[bytes], bytes]


def _identity(chunk: bytes) -> bytes:
    return chunk


def _wrap(decompress: Callable[..., Any]) -> Decoder:
    def decode(chunk: bytes) -> bytes:
        return bytes(decompress(chunk))

    return decode


def decoder_for(content_encoding: str) -> Decoder | None:
    """A decoder for ``content_encoding``; None when it is not supported (brotli)."""
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
