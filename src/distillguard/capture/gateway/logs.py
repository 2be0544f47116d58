"""Structured logs: one JSON object per line on stderr, with the record's extra fields, and
every secret the gateway knows masked (see :mod:`.redact`)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

_STANDARD = frozenset([*vars(logging.makeLogRecord({})), "message", "asctime", "taskName"])


def _keep(text: str) -> str:
    return text


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Callable[[str], str] = _keep) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self._redact(record.getMessage()),
        }
        doc.update({k: _masked(v, self._redact) for k, v in vars(record).items()
                    if k not in _STANDARD})  # fmt: skip
        if record.exc_info:
            doc["error"] = self._redact(self.formatException(record.exc_info))
        return orjson.dumps(doc, default=lambda v: self._redact(str(v))).decode()


def _masked(value: Any, redact: Callable[[str], str]) -> Any:
    """Strings masked; containers of strings too; other values as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_masked(v, redact) for v in value]
    if isinstance(value, dict):
        return {str(k): _masked(v, redact) for k, v in value.items()}
    return value


def configure(level: str = "info", redact: Callable[[str], str] = _keep) -> None:
    """Send distillguard's and uvicorn's logs to stderr as JSON lines, secrets masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(redact))
    for name in ("distillguard", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
