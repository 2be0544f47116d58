"""Errors in each vendor's own format, so SDKs and CLIs show them as they show the vendor's.

Each wire format writes its errors its own way (:mod:`distillguard.capture.wire.api`). A
refusal a retry cannot fix (a bad key, a spent budget) carries ``x-should-retry: false``, which
both official SDKs obey. A refusal sent before the request's body was read asks to close the
connection (``close``), so the rest of that body is not read.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from distillguard.capture.wire.api import Api

#: kind -> (status, retry); each wire format names the kind its own way (``wire.api``).
KINDS = {
    "authentication": (401, False),
    "permission": (403, False),
    "not_found": (404, False),
    "budget": (429, False),
    "bad_request": (400, False),
    "too_large": (413, False),
    "slow_client": (408, True),
    "upstream": (502, True),
    "timeout": (504, True),
    "config": (500, False),
}


@dataclass(frozen=True)
class Refusal:
    """Why the gateway answers instead of the vendor: ``kind`` is a key of :data:`KINDS`."""

    kind: str
    message: str
    close: bool = False

    @property
    def status(self) -> int:
        return KINDS[self.kind][0]

    def render(self, api: Api) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, headers and body in the error format of ``api``."""
        status, retry = KINDS[self.kind]
        error = api.error(self.kind, status, self.message)
        data = orjson.dumps(error.body)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            (b"x-should-retry", b"true" if retry else b"false"),
            (b"x-distillguard-refusal", self.kind.encode()),
            *error.headers,
        ]
        if self.close:
            headers.append((b"connection", b"close"))
        return status, headers, data
