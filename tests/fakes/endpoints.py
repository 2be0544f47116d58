"""The endpoints beyond model calls: batches, their files, stored answers, more metadata.

What the fake keeps between requests lives in a :class:`Store` (one per upstream). Each request
of a batch takes the next scripted item when the batch is created, and the batch ends at once:

  Anthropic  POST /v1/messages/batches (``requests[].custom_id``, ``.params``), GET .../{id}
             (``processing_status: ended``, ``results_url``), GET list, POST .../cancel, DELETE,
             GET .../{id}/results: JSONL ``{"custom_id", "result": {"type": "succeeded",
             "message"}}`` (``errored`` for a scripted error)
  OpenAI     POST /v1/files (multipart), GET /v1/files[/{id}], DELETE, GET /v1/files/{id}/content;
             POST /v1/batches (``input_file_id``: JSONL ``{"custom_id", "method", "url",
             "body"}``), GET [/{id}], POST .../cancel; the output file's lines are
             ``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``
  OpenAI     GET /v1/responses/{id} (``?stream=true``: events), POST
             /v1/responses/{id}/cancel and GET /v1/chat/completions/{id}: the next scripted item
             rendered with that id, as the vendor returns what it stored
  Metadata   GET /v1/models/{id} (Anthropic's shape with ``anthropic-version``), DELETE
             /v1/models/{id}, POST /v1/responses/input_tokens

With a ``canary`` (the API-surface test), every other request is answered 200 with model text
holding it: whatever the gateway forwards unrecorded shows up in what its client receives.
"""

from __future__ import annotations

import email.parser
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tests.fakes import anthropic_api as anthropic
from tests.fakes import openai_chat, openai_common, openai_completions, openai_responses
from tests.fakes.script import Failure, Item, Reply, new_id
from tests.fakes.wire import Rendered, json_response

JSONL = "application/x-jsonl"


class Request(Protocol):
    method: str
    path: str
    query: str
    body: bytes

    def header(self, name: str) -> str | None: ...

    def json(self) -> Any: ...


Take = Callable[[Any], Item]


@dataclass
class Store:
    """Batches, files and the canary of one fake upstream (thread-safe)."""

    canary: str | None = None
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _segments(path: str) -> list[str]:
    return path.strip("/").split("/")


def route(store: Store, take: Take, request: Request) -> Rendered | None:
    """The answer when ``request`` is one of this module's, else None."""
    parts = _segments(request.path)
    if parts[:3] == ["v1", "messages", "batches"]:
        return _anthropic_batches(store, take, request, parts[3:])
    if parts[:2] == ["v1", "batches"]:
        return _openai_batches(store, take, request, parts[2:])
    if parts[:2] == ["v1", "files"]:
        return _files(store, request, parts[2:])
    return _stored(take, request, parts) or _metadata(request, parts)


def canary(store: Store, request: Request) -> Rendered | None:
    """Model text holding the canary, for any request (when the store has one)."""
    if store.canary is None:
        return None
    text = f"{store.canary} answering {request.method} {request.path}"
    body = {"id": new_id("obj"), "object": "unknown", "content": [{"type": "text", "text": text}],
            "output_text": text}  # fmt: skip
    return json_response(200, body, openai_common.headers())


# --- stored answers and legacy completions -----------------------------------------------------


def _stored(take: Take, request: Request, parts: list[str]) -> Rendered | None:
    method, n = request.method, len(parts)
    retrieve = method == "GET" and n == 3 and parts[1] == "responses"
    cancel = method == "POST" and n == 4 and parts[1] == "responses" and parts[3] == "cancel"
    if retrieve or cancel:
        item = _with_id(take(request), parts[2])
        streamed = "stream=true" in request.query
        if isinstance(item, Failure):
            return openai_responses.error(item, False, "gpt-5", {})
        if streamed:
            return openai_responses.stream(item, "gpt-5", {})
        return openai_responses.body(item, "gpt-5", {})
    if method == "GET" and n == 4 and parts[1:3] == ["chat", "completions"]:
        item = _with_id(take(request), parts[3])
        if isinstance(item, Failure):
            return openai_chat.error(item, False, "gpt-4o")
        return openai_chat.completion(item, "gpt-4o")
    return None


def _metadata(request: Request, parts: list[str]) -> Rendered | None:
    method = request.method
    if parts[:2] == ["v1", "models"] and len(parts) == 3:
        if method == "DELETE":
            gone = {"id": parts[2], "object": "model", "deleted": True}
            return json_response(200, gone, openai_common.headers())
        if method != "GET":
            return None
        if request.header("anthropic-version"):
            model = {"type": "model", "id": parts[2], "display_name": parts[2],
                     "created_at": "2025-09-29T00:00:00Z"}  # fmt: skip
            return json_response(200, model, anthropic.headers())
        model = {"id": parts[2], "object": "model", "created": 0, "owned_by": "openai"}
        return json_response(200, model, openai_common.headers())
    if method == "POST" and parts == ["v1", "responses", "input_tokens"]:
        count = {"object": "response.input_tokens", "input_tokens": max(1, len(request.body) // 4)}
        return json_response(200, count, openai_common.headers())
    return None


def _with_id(item: Item, id_: str) -> Item:
    return replace(item, id=id_) if isinstance(item, Reply) else item


# --- Anthropic Message Batches -----------------------------------------------------------------


def _anthropic_batches(
    store: Store, take: Take, request: Request, rest: list[str]
) -> Rendered | None:
    method = request.method
    if not rest:
        if method == "POST":
            return _anthropic_create(store, take, request)
        if method == "GET":
            with store.lock:
                data = [_anthropic_batch(b, request) for b in store.batches.values()
                        if b["vendor"] == "anthropic"]  # fmt: skip
            listing = {"data": data, "has_more": False, "first_id": None, "last_id": None}
            return json_response(200, listing, anthropic.headers())
        return None
    with store.lock:
        batch = store.batches.get(rest[0])
    if batch is None or batch["vendor"] != "anthropic":
        return None
    if method == "GET" and len(rest) == 1:
        return json_response(200, _anthropic_batch(batch, request), anthropic.headers())
    if method == "POST" and rest[1:] == ["cancel"]:
        return json_response(200, _anthropic_batch(batch, request), anthropic.headers())
    if method == "DELETE" and len(rest) == 1:
        deleted = {"id": rest[0], "type": "message_batch_deleted"}
        return json_response(200, deleted, anthropic.headers())
    if method == "GET" and rest[1:] == ["results"]:
        lines = b"".join(json.dumps(line).encode() + b"\n" for line in batch["results"])
        return Rendered(200, (("content-type", JSONL), *anthropic.headers()), lines)
    return None


def _anthropic_create(store: Store, take: Take, request: Request) -> Rendered:
    results = []
    for entry in request.json().get("requests") or []:
        params = entry.get("params") or {}
        item = take(request)
        result = _anthropic_result(item, params.get("model") or "claude")
        results.append({"custom_id": entry.get("custom_id"), "result": result})
    batch = {"id": new_id("msgbatch"), "vendor": "anthropic", "results": results,
             "created": time.time()}  # fmt: skip
    with store.lock:
        store.batches[batch["id"]] = batch
    return json_response(200, _anthropic_batch(batch, request), anthropic.headers())


def _anthropic_result(item: Item, model: str) -> dict[str, Any]:
    if isinstance(item, Failure):
        return {"type": "errored", "error": anthropic.error_body(item)}
    return {"type": "succeeded", "message": json.loads(anthropic.message(item, model).body)}


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _anthropic_batch(batch: dict[str, Any], request: Request) -> dict[str, Any]:
    results = batch["results"]
    succeeded = sum(r["result"]["type"] == "succeeded" for r in results)
    origin = f"http://{request.header('host')}"
    return {
        "id": batch["id"], "type": "message_batch", "processing_status": "ended",
        "request_counts": {"processing": 0, "succeeded": succeeded,
                           "errored": len(results) - succeeded, "canceled": 0, "expired": 0},
        "ended_at": _stamp(batch["created"]), "created_at": _stamp(batch["created"]),
        "expires_at": _stamp(batch["created"] + 86400), "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": f"{origin}/v1/messages/batches/{batch['id']}/results",
    }  # fmt: skip


# --- OpenAI files and batches ------------------------------------------------------------------


def _file_object(meta: dict[str, Any]) -> dict[str, Any]:
    return {"object": "file", "status": "processed", "status_details": None, **meta}


def _files(store: Store, request: Request, rest: list[str]) -> Rendered | None:
    method = request.method
    if not rest and method == "POST":
        name, purpose, content = _multipart(request)
        meta = {"id": new_id("file"), "bytes": len(content), "created_at": int(time.time()),
                "filename": name, "purpose": purpose}  # fmt: skip
        with store.lock:
            store.files[meta["id"]] = (meta, content)
        return json_response(200, _file_object(meta), openai_common.headers())
    if not rest and method == "GET":
        with store.lock:
            data = [_file_object(meta) for meta, _ in store.files.values()]
        return json_response(200, {"object": "list", "data": data}, openai_common.headers())
    with store.lock:
        found = store.files.get(rest[0]) if rest else None
    if found is None:
        return None
    meta, content = found
    if method == "GET" and len(rest) == 1:
        return json_response(200, _file_object(meta), openai_common.headers())
    if method == "DELETE" and len(rest) == 1:
        deleted = {"id": meta["id"], "object": "file", "deleted": True}
        return json_response(200, deleted, openai_common.headers())
    if method == "GET" and rest[1:] == ["content"]:
        kind = ("content-type", "application/octet-stream")
        return Rendered(200, (kind, *openai_common.headers()), content)
    return None


def _multipart(request: Request) -> tuple[str, str, bytes]:
    """The uploaded file's name, the ``purpose`` field and the file's bytes."""
    head = f"Content-Type: {request.header('content-type')}\r\n\r\n".encode()
    message = email.parser.BytesParser().parsebytes(head + request.body)
    name, purpose, content = "upload", "batch", b""
    for part in message.get_payload() if message.is_multipart() else []:
        payload = part.get_payload(decode=True) or b""
        if part.get_param("name", header="content-disposition") == "purpose":
            purpose = payload.decode()
        else:
            name, content = part.get_filename() or name, payload
    return name, purpose, content


def _openai_batches(store: Store, take: Take, request: Request, rest: list[str]) -> Rendered | None:
    method = request.method
    if not rest and method == "POST":
        return _openai_create(store, take, request)
    if not rest and method == "GET":
        with store.lock:
            data = [b["object"] for b in store.batches.values() if b["vendor"] == "openai"]
        listing = {"object": "list", "data": data, "has_more": False}
        return json_response(200, listing, openai_common.headers())
    with store.lock:
        batch = store.batches.get(rest[0]) if rest else None
    if batch is None or batch["vendor"] != "openai":
        return None
    if not ((len(rest) == 1 and method == "GET") or (rest[1:] == ["cancel"] and method == "POST")):
        return None
    return json_response(200, batch["object"], openai_common.headers())


def _openai_create(store: Store, take: Take, request: Request) -> Rendered | None:
    params = request.json()
    with store.lock:
        found = store.files.get(params.get("input_file_id"))
    if found is None:
        return None
    lines = []
    for raw in found[1].splitlines():
        line = json.loads(raw)
        body = line.get("body") or {}
        out = _openai_body(take(request), line.get("url", ""), body)
        lines.append({"id": new_id("batch_req"), "custom_id": line.get("custom_id"),
                      "response": {"status_code": out.status, "request_id": new_id("req"),
                                   "body": json.loads(out.body)}, "error": None})  # fmt: skip
    content = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    meta = {"id": new_id("file"), "bytes": len(content), "created_at": int(time.time()),
            "filename": "batch_output.jsonl", "purpose": "batch_output"}  # fmt: skip
    now = int(time.time())
    batch = {"id": new_id("batch"), "object": "batch", "endpoint": params.get("endpoint"),
             "errors": None, "input_file_id": params.get("input_file_id"),
             "completion_window": params.get("completion_window", "24h"),
             "status": "completed", "output_file_id": meta["id"], "error_file_id": None,
             "created_at": now, "completed_at": now,
             "request_counts": {"total": len(lines), "completed": len(lines), "failed": 0},
             "metadata": params.get("metadata")}  # fmt: skip
    with store.lock:
        store.files[meta["id"]] = (meta, content)
        store.batches[batch["id"]] = {"vendor": "openai", "object": batch}
    return json_response(200, batch, openai_common.headers())


def _openai_body(item: Item, url: str, body: dict[str, Any]) -> Rendered:
    model = str(body.get("model") or "gpt-4o-mini")
    if url.endswith("/chat/completions"):
        if isinstance(item, Failure):
            return openai_chat.error(item, False, model)
        return openai_chat.completion(item, model)
    if url.endswith("/completions"):
        return openai_completions.render(item, model, {})
    if isinstance(item, Failure):
        return openai_responses.error(item, False, model, body)
    return openai_responses.body(item, model, body)
