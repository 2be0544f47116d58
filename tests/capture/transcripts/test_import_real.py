"""``distillguard import claude-code|codex`` on transcripts the real CLIs wrote.

Claude Code writes and then edits a file, Codex adds one with ``apply_patch``, both against the
scripted upstream; the import must hold each answer once (keyed by the upstream's message or
response id), its usage and session, and the edits with exactly what was written; importing
twice adds nothing, and so does importing what ``distillguard serve`` already recorded.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from distillguard.capture.transcripts import claude_code, codex
from distillguard.capture.transcripts.records import Context
from distillguard.cli import main
from distillguard.ledger import Ledger
from distillguard.ledger.chain import output_id
from distillguard.model import Output
from tests.capture.hooks.agents import (
    EDIT_USAGE,
    WRITE_USAGE,
    claude_write_edit_turn,
    enqueue_claude,
)
from tests.clis.gateway import serving
from tests.clis.harness import (
    CLAUDE_MODEL,
    CODEX_MODEL,
    Clis,
    codex_patch_turn,
    run_claude,
    run_codex,
)
from tests.fakes.script import Usage
from tests.fakes.vendors import VendorUpstream
from tests.samples import PY_OUTPUT

OLD = "    if not intervals:\n        return []\n"
NEW = "    if not intervals:\n        return []  # nothing to merge\n"


def dg(db: str, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"DISTILLGUARD_DB": db, "COLUMNS": "200"})


def by_message(ledger: Ledger) -> dict[str | None, Output]:
    return {o.message_id: o for o in ledger.iter_outputs()}


def check_usage(output: Output, usage: Usage) -> None:
    assert (output.input_tokens, output.output_tokens) == (usage.input_tokens, usage.output_tokens)
    assert output.cache_read_tokens == usage.cache_read_tokens
    assert output.cache_write_tokens == usage.cache_write_tokens


def test_claude_code_write_and_edit(clis: Clis, vendor_upstream: VendorUpstream, tmp_path: Path):
    cwd, home, db = tmp_path / "work", tmp_path / "home", f"sqlite:///{tmp_path / 'l.db'}"
    cwd.mkdir()
    turn = claude_write_edit_turn(cwd / "intervals.py", PY_OUTPUT, OLD, NEW)
    enqueue_claude(vendor_upstream, turn)
    run = run_claude(clis.claude, base_url=vendor_upstream.base_url, api_key="sk-ant-x",
                     prompt="Write intervals.py", cwd=cwd, home=home)  # fmt: skip
    assert run.returncode == 0, run.describe()
    assert turn.path.read_text() == turn.final
    (transcript,) = run.transcripts

    first = dg(db, "import", "claude-code", str(home / ".claude" / "projects"))
    assert first.exit_code == 0, first.output
    assert "1 transcript(s), 3 answer(s): 3 new output(s), 2 new edit(s)" in first.output

    with Ledger(db) as ledger:
        outputs = by_message(ledger)
        assert set(outputs) == {turn.write_id, turn.edit_id, turn.answer_id}
        write, edit = outputs[turn.write_id], outputs[turn.edit_id]
        for output in outputs.values():
            assert (output.vendor, output.model, output.tool) == ("anthropic", CLAUDE_MODEL,
                                                                  "claude-code")  # fmt: skip
            assert output.session == transcript.stem
        assert write.text == "Writing the file.\n\n" + PY_OUTPUT
        assert edit.text == NEW and OLD in (edit.request or "")  # the old text: never the model's
        check_usage(write, WRITE_USAGE)
        check_usage(edit, EDIT_USAGE)
        edits = ledger.list_edits(path=str(turn.path))
        assert ledger.verify().ok
    assert [(e.tool_name, e.added, e.removed) for e in edits] == [
        ("Write", PY_OUTPUT, None),
        ("Edit", NEW, OLD),
    ]
    assert [e.output_id for e in edits] == [write.id, edit.id]
    assert [e.call_id for e in edits] == [turn.write_call, turn.edit_call]
    assert {e.source for e in edits} == {"import"}

    again = dg(db, "import", "claude-code", str(home / ".claude" / "projects"))
    assert "3 answer(s): 0 new output(s), 0 new edit(s)" in again.output

    with transcript.open("ab") as fh:  # a cut-off line and one that is not UTF-8
        fh.write(b'{"type": "assistant", "message": {"id": "msg_cut\n\xff\xfe{}\n')
    bad = dg(db, "import", "claude-code", str(transcript))
    assert bad.exit_code == 0, bad.output
    assert "0 new output(s)" in bad.output and "2 line(s) or file(s) skipped" in bad.output
    assert f"{transcript.name}:" in bad.output.replace("\n", "")


def test_codex_apply_patch(clis: Clis, vendor_upstream: VendorUpstream, tmp_path: Path):
    cwd, home, db = tmp_path / "work", tmp_path / "home", f"sqlite:///{tmp_path / 'l.db'}"
    cwd.mkdir()
    usages = (Usage(input_tokens=900, output_tokens=80, cache_read_tokens=300), Usage())
    turn = codex_patch_turn(cwd, "intervals.py", PY_OUTPUT, "Added intervals.py.", usages)
    vendor_upstream.enqueue(*turn.items, when=turn.when)
    run = run_codex(clis.codex, base_url=vendor_upstream.base_url + "/v1", api_key="sk-x",
                    prompt="Add intervals.py", cwd=cwd, home=home)  # fmt: skip
    assert run.returncode == 0, run.describe()
    sessions = home / ".codex" / "sessions"

    first = dg(db, "import", "codex", str(sessions))
    assert first.exit_code == 0, first.output
    assert "2 answer(s): 2 new output(s), 1 new edit(s)" in first.output
    with Ledger(db) as ledger:
        outputs = by_message(ledger)
        (edit,) = ledger.list_edits()
    assert set(outputs) == set(turn.message_ids)  # the upstream's response ids: the join key
    patching = outputs[turn.message_ids[0]]
    assert (patching.vendor, patching.model, patching.tool) == ("openai", CODEX_MODEL, "codex")
    assert patching.text == "Adding the file.\n\n" + PY_OUTPUT
    assert run.transcripts[0].name.endswith(f"-{patching.session}.jsonl")
    assert (patching.input_tokens, patching.cache_read_tokens) == (900, 300)  # input less cached
    assert (edit.path, edit.added, edit.removed) == (str(turn.file), PY_OUTPUT, None)
    assert (edit.tool_name, edit.call_id, edit.output_id) == ("apply_patch", turn.call_id,
                                                              patching.id)  # fmt: skip

    again = dg(db, "import", "codex", str(sessions))
    assert "0 new output(s), 0 new edit(s)" in again.output


def test_import_after_the_gateway_adds_no_output(
    clis: Clis, vendor_upstream: VendorUpstream, tmp_path: Path
) -> None:
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    turn = claude_write_edit_turn(cwd / "intervals.py", PY_OUTPUT, OLD, NEW)
    enqueue_claude(vendor_upstream, turn)
    ids = (turn.write_id, turn.edit_id, turn.answer_id)
    with serving(tmp_path / "gateway", vendor_upstream.base_url) as served:
        run = run_claude(clis.claude, base_url=served.endpoint("claude"), api_key=served.key,
                         prompt="Write intervals.py", cwd=cwd, home=home)  # fmt: skip
        assert run.returncode == 0, run.describe()
        recorded = served.outputs(ids)
    assert [o.message_id for o in recorded] == list(ids), served.process.output()
    db = f"sqlite:///{(served.home / 'ledger.db').resolve()}"

    result = dg(db, "import", "claude-code", str(home / ".claude" / "projects"))
    assert "3 answer(s): 0 new output(s), 2 new edit(s)" in result.output, result.output
    with Ledger(db) as ledger:
        after = by_message(ledger)
        edits = ledger.list_edits(path=str(turn.path))
        assert ledger.count() == 3 and ledger.verify().ok
    for gateway_output in recorded:  # the same answer, the same output: as the gateway saw it
        assert after[gateway_output.message_id] == gateway_output
    (transcript,) = run.transcripts
    read = [a.output for a in claude_code.read(transcript, Context("anthropic", "claude-code"))]
    assert [(o.message_id, o.text) for o in read] == [(o.message_id, o.text) for o in recorded]
    assert [e.output_id for e in edits] == [o.id for o in recorded[:2]]
    assert edits[0].output_id == output_id(f"msg:anthropic:{turn.write_id}")


def test_codex_import_after_the_gateway_adds_no_output(
    clis: Clis, vendor_upstream: VendorUpstream, tmp_path: Path
) -> None:
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    turn = codex_patch_turn(cwd, "intervals.py", PY_OUTPUT, "Added intervals.py.")
    vendor_upstream.enqueue(*turn.items, when=turn.when)
    with serving(tmp_path / "gateway", vendor_upstream.base_url) as served:
        run = run_codex(clis.codex, base_url=served.endpoint("codex"), api_key=served.key,
                        prompt="Add intervals.py", cwd=cwd, home=home)  # fmt: skip
        assert run.returncode == 0, run.describe()
        recorded = served.outputs(turn.message_ids)
    assert [o.message_id for o in recorded] == list(turn.message_ids), served.process.output()
    db = f"sqlite:///{(served.home / 'ledger.db').resolve()}"

    result = dg(db, "import", "codex", str(home / ".codex" / "sessions"))
    assert "2 answer(s): 0 new output(s), 1 new edit(s)" in result.output, result.output
    with Ledger(db) as ledger:
        assert [o.message_id for o in ledger.iter_outputs()] == list(turn.message_ids)
        (edit,) = ledger.list_edits()
    assert edit.output_id == recorded[0].id and edit.added == PY_OUTPUT
    (transcript,) = run.transcripts
    read = [a.output for a in codex.read(transcript, Context("openai", "codex"))]
    assert [(o.message_id, o.text) for o in read] == [(o.message_id, o.text) for o in recorded]
