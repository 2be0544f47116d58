"""OpenAI legacy Completions (``POST /v1/completions``): the stream and the JSON body.

Body: a ``text_completion`` whose ``choices[].text`` are the answers (with ``echo`` the prompt
leads each one: it is in the request, so it is never attributed). Stream: ``data:
{text_completion}`` events, each choice carrying the next piece of its ``text``; with
``stream_options.include_usage`` a last event with empty ``choices`` and the ``usage``; then
``data: [DONE]``. Usage is the Chat Completions shape (``prompt_tokens``, ``completion_tokens``).
"""

from __future__ import annotations

from typing import Any

from distillguard.capture.wire import openai_chat
from distillguard.capture.wire.base import Reply, as_dict, as_int, as_list
from distillguard.capture.wire.openai_chat import set_usage


class Stream(openai_chat.Stream):
    """The Chat Completions stream's events (ids, usage, ``[DONE]``); a choice carries ``text``
    instead of a ``delta``."""

    def _delta(self, choice: dict[str, Any]) -> None:
        text = choice.get("text")
        if isinstance(text, str):
            state = self._choices.setdefault(as_int(choice.get("index")) or 0, openai_chat.Choice())
            state.content.append(text)


def from_body(reply: Reply, body: dict[str, Any]) -> None:
    """A non-streamed ``text_completion``."""
    reply.message_id = body.get("id")
    reply.model = body.get("model")
    for choice in as_list(body.get("choices")):
        reply.add_text(as_dict(choice).get("text"))
    set_usage(reply.tokens, body.get("usage"))


def request_text(body: dict[str, Any]) -> list[str]:
    """The prompt (a string or a list of strings; token arrays carry no text) and the
    ``suffix`` the answer is to end with."""
    prompt = body.get("prompt")
    texts = [prompt] if isinstance(prompt, str) else [p for p in as_list(prompt)
                                                      if isinstance(p, str)]  # fmt: skip
    suffix = body.get("suffix")
    return texts + ([suffix] if isinstance(suffix, str) and suffix else [])
