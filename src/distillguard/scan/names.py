"""Names as text: a POSIX file name is bytes, and need not be UTF-8.

Python reads such a name with ``surrogateescape`` (byte 0xE9 becomes U+DCE9), so the scan keeps
it exactly and writes its outputs under the same bytes. Text that leaves the program (the
report, the terminal) must be valid UTF-8, so there:

- ``shown`` writes each byte that is not UTF-8 as ``\\xNN`` (``caf\\xe9.bin``): readable, and
  the same as before for every name that is UTF-8;
- ``portable`` does that to every string of a JSON value and, where the string is the value of
  a key, adds the exact bytes, base64, under the key + ``_bytes`` (``"doc_bytes"``,
  ``"path_bytes"``): lossless, for the few names that need it.
"""

from __future__ import annotations

import base64
from typing import Any


def raw_bytes(text: str) -> bytes | None:
    """The bytes of ``text`` when it is not valid UTF-8 text (it holds surrogates), else None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate that stands for no byte
            return text.encode("utf-8", "surrogatepass")
    return None


def shown(text: str) -> str:
    """``text`` as valid UTF-8 text, each byte that is not UTF-8 written ``\\xNN``."""
    raw = raw_bytes(text)
    return text if raw is None else raw.decode("utf-8", "backslashreplace")


def portable(value: Any) -> Any:
    """A JSON value whose strings are all valid UTF-8 (see the module docstring)."""
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, list | tuple):
        return [portable(item) for item in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key] = portable(item)
            raw = raw_bytes(item) if isinstance(item, str) else None
            if raw is not None:
                out[f"{key}_bytes"] = base64.b64encode(raw).decode("ascii")
        return out
    return value
