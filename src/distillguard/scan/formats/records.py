"""The text of a record: a field, a nested path, or every string of a known chat shape.

Every record format (JSONL, JSON arrays, CSV rows, Parquet and Arrow rows) hands its records
here as dicts, so nested text reads the same everywhere.

- ``--text-field`` takes a path: ``a.b``, ``messages[].content``, ``conversations[].value``,
  ``messages[3].content`` (``[]`` is every item). A whole key that holds a dot is tried first.
  Where the path ends at a list or an object, every string beneath it is text.
- Without ``--text-field``: the ``text`` field; a record without one that has a known chat
  shape is read as a chat: OpenAI/Anthropic ``messages`` (+ ``system``), ShareGPT
  ``conversations``, Gemini ``contents``, Alpaca ``instruction``/``input``/``output``,
  ``prompt``/``completion``, preference ``chosen``/``rejected``. Every string under those keys
  is text, except what only says what a part is (``role``, ``type``, ids, signatures) and
  media (image, audio and file parts). A tool call's ``arguments`` string holding a JSON object
  (OpenAI) is read as that object: ``messages[2].tool_calls[0].function.arguments.code``.

When the text is gathered from several strings, they are joined by ``FIELD_SEPARATOR`` and the
document keeps where each begins, so every match names the string it lies in (``field``) with
spans into that string. A top-level string field is the text as it is (no ``field``).

A record whose text is longer than ``Limits.document_bytes`` characters is skipped as too large
(matching costs memory in proportion to the text), whatever format it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from distillguard.scan.formats.base import Document, Fields, Skipped, json_type

FIELD_SEPARATOR = "\n\n"
DEFAULT_FIELD = "text"
# Keys that, alone or in these pairs, make a record a chat.
CHAT_ANCHORS: tuple[frozenset[str], ...] = (
    frozenset({"messages"}),
    frozenset({"conversations"}),
    frozenset({"conversation"}),
    frozenset({"contents"}),
    frozenset({"instruction", "output"}),
    frozenset({"prompt", "completion"}),
    frozenset({"prompt", "response"}),
    frozenset({"chosen"}),
    frozenset({"rejected"}),
)
CHAT_KEYS = frozenset(
    {
        "system", "messages", "conversations", "conversation", "contents", "instruction",
        "input", "output", "prompt", "completion", "response", "chosen", "rejected",
    }
)  # fmt: skip
# Keys whose strings only say what a part is, not what it says.
STRUCTURAL = frozenset(
    {
        "role", "type", "from", "id", "tool_call_id", "tool_use_id", "call_id", "name",
        "model", "cache_control", "signature", "encrypted_content", "index", "status",
        "finish_reason", "stop_reason", "media_type", "mime_type", "mimeType", "detail",
    }
)  # fmt: skip
# Keys of media parts that carry no ``type`` tag (Gemini's ``inline_data``, ``file_data``).
MEDIA_KEYS = frozenset(
    {"inline_data", "inlineData", "file_data", "fileData", "image_url", "input_audio"}
)
MEDIA_TYPES = frozenset(
    {"image", "image_url", "input_image", "audio", "input_audio", "file", "input_file",
     "document", "redacted_thinking"}
)  # fmt: skip
_SEGMENT = re.compile(r"^([^\[\]]*)((?:\[\d*\])*)$")

Parts = list[tuple[str, str]]


def record_document(
    where: str, record: object, fields: Fields, raw: Any, nbytes: int = 0
) -> Document | Skipped:
    """A record as a document named ``where`` (or by its id field), or why it cannot be."""
    if not isinstance(record, Mapping):
        return Skipped(where, f"record is a JSON {json_type(record)}, not an object")
    parts = record_parts(record, fields.text)
    if isinstance(parts, str):
        return Skipped(where, parts)
    name = where
    if fields.id is not None:
        found = record_id(record, fields.id)
        if found is None:
            return Skipped(where, f"no '{fields.id}' field (or it is null)")
        name = found
    text, spots = join(parts)
    if len(text) > fields.limits.document_bytes:
        return Skipped(where, fields.limits.too_large(len(text), "text", "characters"))
    return Document(name, text, raw, spots, nbytes)


def record_parts(record: Mapping[str, Any], text_field: str | None) -> Parts | str:
    """The (path, string) pairs of a record's text, or why it has none. One pair with path
    ``""``: a top-level string field, the text as it is."""
    key = DEFAULT_FIELD if text_field is None else text_field
    value = record.get(key)
    if isinstance(value, str):
        return [("", value)]
    if text_field is None:
        if value is None:
            return _chat(record, null_text=key in record)
        return f"'{key}' is a JSON {json_type(value)}, not a string"
    if key in record:
        return _under_key(key, value)
    return _at_path(record, text_field)


def join(parts: Parts) -> tuple[str, tuple[tuple[str, int], ...] | None]:
    """The document text of a record's parts, with where each begins (None: one flat field)."""
    if len(parts) == 1 and parts[0][0] == "":
        return parts[0][1], None
    spots = []
    at = 0
    for path, text in parts:
        spots.append((path, at))
        at += len(text) + len(FIELD_SEPARATOR)
    return FIELD_SEPARATOR.join(text for _, text in parts), tuple(spots)


def record_id(record: Mapping[str, Any], id_field: str) -> str | None:
    """The id of a record (a key, or the first scalar at a path), as a string."""
    value = record.get(id_field)
    if value is None and ("." in id_field or "[" in id_field):
        found = [v for _, v in _resolve(record, _parse(id_field) or [], "") if v is not None]
        value = found[0] if found and not isinstance(found[0], dict | list) else None
    return None if value is None else str(value)


# --- chat shapes ----------------------------------------------------------------------------


def _chat(record: Mapping[str, Any], *, null_text: bool) -> Parts | str:
    keys = set(record)
    if not any(anchor <= keys for anchor in CHAT_ANCHORS):
        shown = ", ".join(sorted(map(str, keys))[:8]) or "none"
        what = f"'{DEFAULT_FIELD}' is null" if null_text else f"no '{DEFAULT_FIELD}' field"
        return f"{what} and no known chat shape (keys: {shown})"
    parts: Parts = []
    for key, value in record.items():
        if key in CHAT_KEYS:
            parts.extend(_strings(value, key))
    if not parts:
        return "a chat record without any text"
    return parts


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every text string under ``value``, with its path, in order."""
    if isinstance(value, str):
        if value:
            yield path, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        if value.get("type") in MEDIA_TYPES:
            return
        for key, item in value.items():
            if key in STRUCTURAL or key in MEDIA_KEYS:
                continue
            sub = f"{path}.{key}" if path else str(key)
            if key == "arguments" and isinstance(item, str):
                yield from _arguments(item, sub)
            else:
                yield from _strings(item, sub)


def _arguments(text: str, path: str) -> Iterator[tuple[str, str]]:
    """A tool call's arguments: the strings of the JSON object it encodes, else itself."""
    if text.lstrip().startswith("{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            yield from _strings(parsed, path)
            return
    if text:
        yield path, text


# --- paths ----------------------------------------------------------------------------------


def _under_key(key: str, value: Any) -> Parts | str:
    """The text of a top-level key (a string was taken before): every string beneath it."""
    if value is None:
        return f"'{key}' is null"
    if not isinstance(value, list | dict):
        return f"'{key}' is a JSON {json_type(value)}, not a string"
    parts = list(_strings(value, key))
    return parts or f"no text at '{key}'"


def _at_path(record: Mapping[str, Any], text_field: str) -> Parts | str:
    steps = _parse(text_field)
    if steps is None:
        return f"--text-field {text_field!r} is not a field path (a.b, messages[].content)"
    parts: Parts = []
    for path, value in _resolve(record, steps, ""):
        parts.extend(_strings(value, path))
    if not parts and len(steps) == 1 and not steps[0][1]:
        return f"no '{text_field}' field"
    return parts or f"no text at '{text_field}'"


def _parse(text_field: str) -> list[tuple[str, list[int | None]]] | None:
    """``messages[].content`` -> [("messages", [None]), ("content", [])]; None if malformed."""
    steps: list[tuple[str, list[int | None]]] = []
    for segment in text_field.split("."):
        m = _SEGMENT.match(segment)
        if m is None or (not m.group(1) and not steps):
            return None
        idx = [int(s) if s else None for s in re.findall(r"\[(\d*)\]", m.group(2))]
        steps.append((m.group(1), idx))
    return steps


def _resolve(
    value: Any, steps: list[tuple[str, list[int | None]]], path: str
) -> Iterator[tuple[str, Any]]:
    if not steps:
        yield path, value
        return
    (key, indexes), rest = steps[0], steps[1:]
    if key:
        if not isinstance(value, Mapping) or key not in value:
            return
        value, path = value[key], f"{path}.{key}" if path else key
    yield from _indexed(value, indexes, rest, path)


def _indexed(
    value: Any, indexes: list[int | None], rest: list[tuple[str, list[int | None]]], path: str
) -> Iterator[tuple[str, Any]]:
    if not indexes:
        yield from _resolve(value, rest, path)
        return
    if not isinstance(value, list):
        return
    first, more = indexes[0], indexes[1:]
    chosen = range(len(value)) if first is None else [first] if first < len(value) else []
    for i in chosen:
        yield from _indexed(value[i], more, rest, f"{path}[{i}]")
