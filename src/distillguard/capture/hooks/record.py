"""Record the edit a hook reports: the answer that made the call, read from the transcript.

The hook's JSON names the transcript (``transcript_path``) and the call (``tool_use_id``:
Claude Code's ``toolu_...``, Codex's ``call_...``). The answer holding that call is read from
the transcript with the importer's own readers, so a hook, an import and the gateway record
the same output under the same key (the vendor's message id) and merge. When the transcript
does not have the call (not written yet, unreadable), the call's own input is recorded, without
a message id, and the hook says so in its log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.capture.transcripts.edits import edits_of, file_writes
from distillguard.capture.transcripts.importer import AGENTS
from distillguard.capture.transcripts.records import Answer, Context, Problem, as_str
from distillguard.errors import InputError
from distillguard.ledger import Ledger
from distillguard.ledger.chain import output_id
from distillguard.model import NewOutput, Recorded


@dataclass(frozen=True)
class HookCall:
    """What a ``PostToolUse`` hook is told (the fields distillguard uses)."""

    agent: str
    tool_name: str
    tool_input: Any
    call_id: str | None
    session: str | None
    transcript: Path | None
    cwd: str | None
    model: str | None

    @classmethod
    def parse(cls, agent: str, payload: Any) -> HookCall:
        if not isinstance(payload, dict):
            raise InputError("the hook's input is not a JSON object")
        transcript = as_str(payload.get("transcript_path"))
        return cls(
            agent=agent,
            tool_name=str(payload.get("tool_name") or ""),
            tool_input=payload.get("tool_input"),
            call_id=as_str(payload.get("tool_use_id")),
            session=as_str(payload.get("session_id")),
            transcript=Path(transcript) if transcript else None,
            cwd=as_str(payload.get("cwd")),
            model=as_str(payload.get("model")),
        )


@dataclass(frozen=True)
class HookResult:
    output_id: str
    output_created: bool
    edits_created: int
    from_transcript: bool


def record_call(
    ledger: Ledger, call: HookCall, ctx: Context, *, edits_only: bool = False
) -> HookResult | None:
    """Record the answer (output and edits) behind ``call``; None when it wrote no file.

    ``edits_only``: leave the output to the gateway (whose record carries the actor, team, key
    and cost, and would be the duplicate if the hook wrote first); the edits name its id.
    """
    if not file_writes(call.tool_name, call.tool_input, call.cwd):
        return None
    answer = find_answer(call, ctx)
    found = answer is not None
    if answer is None:
        answer = fallback_answer(call, ctx)
    if not answer.output.text:
        return None
    answer = answer.with_source("hook")
    if edits_only:
        recorded = Recorded(output_id(answer.output.idempotency_key()), created=False)
    else:
        recorded = ledger.record(answer.output)
    created = ledger.record_edits(answer.edits)
    return HookResult(recorded.id, recorded.created, sum(created), found)


def find_answer(call: HookCall, ctx: Context) -> Answer | None:
    """The transcript's answer that holds ``call``, or None."""
    if call.transcript is None or call.call_id is None or not call.transcript.is_file():
        return None
    found = None
    for item in AGENTS[call.agent].read(call.transcript, ctx):
        if not isinstance(item, Problem) and call.call_id in item.call_ids:
            found = item
    return found


def fallback_answer(call: HookCall, ctx: Context) -> Answer:
    """The call's input alone, when the transcript does not have it."""
    writes = file_writes(call.tool_name, call.tool_input, call.cwd)
    output = NewOutput(
        vendor=ctx.vendor,
        model=call.model or "unknown",
        text="\n\n".join(w.added for w in writes if w.added),
        tool=ctx.tool,
        actor=ctx.actor,
        team=ctx.team,
        session=call.session,
        request="\n\n".join(w.removed for w in writes if w.removed) or None,
        source_id=f"{call.agent}:{call.session or '-'}:{call.call_id or '-'}",
    )
    edits = tuple(edits_of(output, [(call.tool_name, call.call_id, call.tool_input)], call.cwd))
    return Answer(output, edits, (call.call_id,) if call.call_id else ())
