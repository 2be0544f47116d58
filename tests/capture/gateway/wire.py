"""Hand-written wire transcripts in the vendors' documented formats, for the parser tests."""

from __future__ import annotations

import json
from typing import Any


def sse(events: list[tuple[str | None, Any]]) -> bytes:
    """``event:``/``data:`` frames; ``data`` given as a dict (JSON) or a raw string."""
    out = []
    for name, data in events:
        body = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {body}\n\n")
    return "".join(out).encode()


WRITE_CONTENT = "def add(a, b):\n    return a + b\n"

ANTHROPIC_STREAM = sse(
    [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
            "content": [], "model": "claude-sonnet-4-5-20250929", "stop_reason": None,
            "stop_sequence": None, "usage": {"input_tokens": 472, "output_tokens": 2,
            "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 20000,
            "cache_creation": {"ephemeral_5m_input_tokens": 1000,
                               "ephemeral_1h_input_tokens": 0}}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "thinking", "thinking": "",
                                                   "signature": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "thinking_delta", "thinking": "I should "}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "thinking_delta", "thinking": "write it."}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "signature_delta", "signature": "EqQB"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("ping", {"type": "ping"}),
        ("content_block_start", {"type": "content_block_start", "index": 1,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "text_delta", "text": "I'll create "}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "text_delta", "text": "the file."}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("content_block_start", {"type": "content_block_start", "index": 2,
                                 "content_block": {"type": "tool_use",
                                                   "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                                                   "name": "Write", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 2,
                                 "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": {
            "type": "input_json_delta", "partial_json": '{"file_path": "/w/add.py", "cont'}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": {
            "type": "input_json_delta",
            "partial_json": 'ent": ' + json.dumps(WRITE_CONTENT) + "}"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        ("content_block_start", {"type": "content_block_start", "index": 3,
                                 "content_block": {"type": "tool_use", "id": "toolu_2",
                                                   "name": "Edit", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 3, "delta": {
            "type": "input_json_delta", "partial_json": json.dumps(
                {"file_path": "/w/m.py", "old_string": "x = old_value()",
                 "new_string": "x = brand_new_value()"})}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 3}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                           "usage": {"output_tokens": 189}}),
        ("message_stop", {"type": "message_stop"}),
    ]
)  # fmt: skip

CHAT_STREAM = sse(
    [
        (None, {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                "created": 1741570283, "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1",
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": "",
                             "refusal": None}, "logprobs": None, "finish_reason": None}],
                "usage": None}),
        (None, {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                "created": 1741570283, "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "delta": {"content": "Here it "}, "finish_reason": None}],
                "usage": None}),
        (None, {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                "created": 1741570283, "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "delta": {"content": "is."}, "finish_reason": None}],
                "usage": None}),
        (None, {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                "created": 1741570283, "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
                    "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "type": "function",
                    "function": {"name": "write_file", "arguments": ""}}]},
                    "finish_reason": None}], "usage": None}),
        (None, {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                "created": 1741570283, "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {
                    "arguments": '{"path": "add.py", "text": '}}]}, "finish_reason": None}],
                "usage": None}),
        (None, {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                "created": 1741570283, "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {
                    "arguments": json.dumps(WRITE_CONTENT) + "}"}}]}, "finish_reason": None}],
                "usage": None}),
        (None, {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                "created": 1741570283, "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
                "usage": None}),
        (None, {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
                "created": 1741570283, "model": "gpt-4o-2024-08-06", "choices": [],
                "usage": {"prompt_tokens": 1200, "completion_tokens": 48, "total_tokens": 1248,
                          "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
                          "completion_tokens_details": {"reasoning_tokens": 0}}}),
        (None, "[DONE]"),
    ]
)  # fmt: skip

PATCH = (
    "*** Begin Patch\n*** Add File: hello.py\n+def hello():\n+    return 'hi'\n"
    "*** Update File: app.py\n@@ def main():\n     setup()\n-    run_old()\n+    run_new()\n"
    "*** End Patch\n"
)

RESPONSES_STREAM = sse(
    [
        ("response.created", {"type": "response.created", "sequence_number": 0, "response": {
            "id": "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654", "object": "response",
            "created_at": 1741290958, "status": "in_progress", "model": "gpt-5-codex",
            "output": [], "usage": None}}),
        ("response.output_item.added", {"type": "response.output_item.added",
                                        "sequence_number": 1, "output_index": 0, "item": {
            "id": "rs_1", "type": "reasoning", "summary": []}}),
        ("response.reasoning_summary_text.delta", {
            "type": "response.reasoning_summary_text.delta", "sequence_number": 2,
            "item_id": "rs_1", "output_index": 0, "summary_index": 0,
            "delta": "**Planning the patch**"}),
        ("response.output_item.done", {"type": "response.output_item.done", "sequence_number": 3,
                                       "output_index": 0, "item": {
            "id": "rs_1", "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "**Planning the patch**"}]}}),
        ("response.output_item.added", {"type": "response.output_item.added",
                                        "sequence_number": 4, "output_index": 1, "item": {
            "id": "ctc_1", "type": "custom_tool_call", "status": "in_progress",
            "call_id": "call_1", "name": "apply_patch", "input": ""}}),
        ("response.custom_tool_call_input.delta", {
            "type": "response.custom_tool_call_input.delta", "sequence_number": 5,
            "item_id": "ctc_1", "output_index": 1, "delta": PATCH}),
        ("response.custom_tool_call_input.done", {
            "type": "response.custom_tool_call_input.done", "sequence_number": 6,
            "item_id": "ctc_1", "output_index": 1, "input": PATCH}),
        ("response.output_item.done", {"type": "response.output_item.done", "sequence_number": 7,
                                       "output_index": 1, "item": {
            "id": "ctc_1", "type": "custom_tool_call", "status": "completed",
            "call_id": "call_1", "name": "apply_patch", "input": PATCH}}),
        ("response.output_item.added", {"type": "response.output_item.added",
                                        "sequence_number": 8, "output_index": 2, "item": {
            "id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant",
            "content": []}}),
        ("response.output_text.delta", {"type": "response.output_text.delta",
                                        "sequence_number": 9, "item_id": "msg_1",
                                        "output_index": 2, "content_index": 0,
                                        "delta": "Patched.", "logprobs": []}),
        ("response.output_item.done", {"type": "response.output_item.done", "sequence_number": 10,
                                       "output_index": 2, "item": {
            "id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "Patched.", "annotations": []}]}}),
        ("response.completed", {"type": "response.completed", "sequence_number": 11,
                                "response": {
            "id": "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654", "object": "response",
            "status": "completed", "model": "gpt-5-codex",
            "output": [
                {"id": "rs_1", "type": "reasoning",
                 "summary": [{"type": "summary_text", "text": "**Planning the patch**"}]},
                {"id": "ctc_1", "type": "custom_tool_call", "status": "completed",
                 "call_id": "call_1", "name": "apply_patch", "input": PATCH},
                {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Patched.", "annotations": []}]}],
            "usage": {"input_tokens": 9000, "input_tokens_details": {"cached_tokens": 8000},
                      "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 128},
                      "total_tokens": 9300}}}),
    ]
)  # fmt: skip
