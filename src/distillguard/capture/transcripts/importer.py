"""Import a directory of agent transcripts into the ledger, idempotently.

Each answer becomes an output keyed by the vendor's message/response id (so it merges with the
gateway's and a hook's record of the same answer) and its file edits. A line that cannot be
read is reported as a :class:`Problem` and skipped; a file that cannot be opened too. Files are
recorded one at a time, so a long import keeps what it did if it is stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from distillguard.capture.transcripts import claude_code, codex
from distillguard.capture.transcripts.records import Answer, Context, Problem
from distillguard.errors import InputError
from distillguard.ledger import Ledger

Reader = Callable[[Path, Context], Iterator[Answer | Problem]]


@dataclass(frozen=True)
class Agent:
    """An agent whose transcripts can be imported: its name, files and reader."""

    name: str
    vendor: str
    pattern: str
    read: Reader


AGENTS = {
    "claude-code": Agent("claude-code", "anthropic", "*.jsonl", claude_code.read),
    "codex": Agent("codex", "openai", "rollout-*.jsonl", codex.read),
}


@dataclass
class ImportReport:
    """What an import did."""

    files: int = 0
    answers: int = 0
    outputs_new: int = 0
    edits_new: int = 0
    problems: list[Problem] = field(default_factory=list)


def transcript_files(agent: Agent, root: Path) -> list[Path]:
    """The agent's transcripts under ``root`` (a file is taken as it is), sorted."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{root}: no such directory")
    return sorted(p for p in root.rglob(agent.pattern) if p.is_file())


def import_files(
    ledger: Ledger,
    files: list[Path],
    read: Reader,
    ctx: Context,
    advance: Callable[[int], None] | None = None,
) -> ImportReport:
    """Record the answers and edits of ``files``; ``advance(1)`` after each file."""
    report = ImportReport()
    for path in files:
        _import_file(ledger, path, read, ctx, report)
        report.files += 1
        if advance is not None:
            advance(1)
    return report


def _import_file(
    ledger: Ledger, path: Path, read: Reader, ctx: Context, report: ImportReport
) -> None:
    answers: list[Answer] = []
    try:
        for item in read(path, ctx):
            if isinstance(item, Problem):
                report.problems.append(item)
            else:
                answers.append(item.with_source("import"))
    except (OSError, UnicodeDecodeError) as exc:
        report.problems.append(Problem(str(path), f"cannot read: {exc}"))
    if not answers:
        return
    try:
        _record(ledger, answers, report)
    except InputError:  # one answer the ledger refuses: record the others one by one
        for answer in answers:
            try:
                _record(ledger, [answer], report)
            except InputError as exc:
                where = f"{path} (message {answer.output.message_id or '-'})"
                report.problems.append(Problem(where, str(exc)))


def _record(ledger: Ledger, answers: list[Answer], report: ImportReport) -> None:
    recorded = ledger.record_many(a.output for a in answers)
    created = ledger.record_edits(e for a in answers for e in a.edits)
    report.answers += len(answers)
    report.outputs_new += sum(r.created for r in recorded)
    report.edits_new += sum(created)
