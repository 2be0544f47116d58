"""Agent file edits in the ledger (``edits``, migration 003): idempotent, beside the chain."""

from __future__ import annotations

from distillguard.ledger import Ledger
from distillguard.ledger.chain import output_id
from distillguard.ledger.edits import Edit
from distillguard.model import NewOutput

TEXT = "def area(w, h):\n    return w * h\n"


def edit(path: str, call: str | None, added: str, removed: str | None = None) -> Edit:
    key = "msg:anthropic:msg_1"
    return Edit(
        output_id(key), "anthropic", "claude-x", "claude-code", path, added, removed,
        tool_name="Edit", call_id=call, session="s", message_id="msg_1", source="hook",
    )  # fmt: skip


def test_edits_are_idempotent_and_name_their_output(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        assert ledger.record_edits([edit("/a.py", "toolu_1", TEXT, "old")]) == [True]
        again = [edit("/a.py", "toolu_1", TEXT, "old"), edit("/b.py", "toolu_2", "x = 1\n")]
        assert ledger.record_edits(again) == [False, True]
        assert ledger.record_edits([edit("/b.py", None, "y\n"), edit("/b.py", None, "z\n")]) == [
            True,
            True,  # no call id: the content tells them apart
        ]
        recorded = ledger.record(NewOutput("anthropic", "claude-x", TEXT, message_id="msg_1"))
        (found,) = ledger.list_edits(path="/a.py")
        assert ledger.list_edits(output_id=recorded.id)[0] == found
        assert len(ledger.list_edits()) == 4
        assert (found.added, found.removed, found.source) == (TEXT, "old", "hook")
        assert found.created_at is not None and ledger.verify().ok  # journaled, see test_tamper
