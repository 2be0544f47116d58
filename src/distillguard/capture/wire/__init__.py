"""Each vendor's wire format, used by the gateway, the transcript importers and the hooks alike.

base       what every parser produces (:class:`Reply`) and the interface the gateway feeds
sse        server-sent events split as they arrive
anthropic  Messages API: SSE and JSON answers, what a request quotes, usage
openai_chat, openai_responses   Chat Completions and Responses APIs, the same
openai_completions   legacy Completions, the same
batch      batch results (JSONL): one output per line
raw        answers no parser reads, recorded as their text (flagged unparsed)
api        what the gateway knows of each wire format: routes, parsers, errors, keys
tools      what a tool call adds (Write.content, Edit.new_string, apply_patch '+' lines)
prices     the versioned price table, costs and the cost bounds budgets reserve
estimate   token counts estimated from the recorded text when a vendor reports none
exports    the vendors' own usage exports, read for ``usage reconcile``

Token usage has one shape everywhere: :class:`distillguard.model.Usage`.
"""

from distillguard.capture.wire.base import Parser, Reply

__all__ = ["Parser", "Reply"]
