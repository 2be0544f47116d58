"""Attribution notes on ``refs/notes/distillguard``: a cache, never the source of truth.

``attribute`` writes one Agent Trace record per commit as a git note. Readers (``check``,
``blame``, ``stats``) use a note only when it was computed against the same ledger position as
the current index (its ``mark``); a missing, unreadable or stale note means recomputing from
content, so a squash on the server, unpushed notes or outputs recorded since lose nothing.
"""

from __future__ import annotations

import json

from distillguard.capture.git.attribute import Attribution, Attributor
from distillguard.capture.git.repo import Git
from distillguard.capture.git.trace import from_record, to_record
from distillguard.errors import GitError, InputError
from distillguard.index.store import Manifest

NOTES_REF = "refs/notes/distillguard"


def mark_of(manifest: Manifest) -> str:
    """Names the ledger position and fingerprint settings an index was built at."""
    return f"{manifest.fp_config}/{manifest.last_seq}/{manifest.last_id}"


def read_note(git: Git, sha: str) -> Attribution | None:
    """The attribution noted on ``sha``, or None (no note, or not one of ours)."""
    try:
        raw = git.run("notes", "--ref", NOTES_REF, "show", sha)
    except GitError:
        return None
    try:
        return from_record(json.loads(raw))
    except (ValueError, InputError):
        return None


def write_note(git: Git, att: Attribution) -> dict[str, object]:
    """Replace ``att.revision``'s note with its Agent Trace record; returns the record."""
    paths = [f.path for f in att.files if f.contributions]
    texts = {
        p: b.decode("utf-8", errors="replace") for p, b in git.blobs(att.revision, paths).items()
    }
    record: dict[str, object] = to_record(att, texts)
    data = json.dumps(record, indent=1, sort_keys=False).encode("utf-8") + b"\n"
    git.run("notes", "--ref", NOTES_REF, "add", "-f", "-F", "-", att.revision, stdin=data)
    return record


class Attributions:
    """Commit attributions: the note when it is fresh, else recomputed from content."""

    def __init__(self, attributor: Attributor) -> None:
        self.attributor = attributor
        self.recomputed: list[str] = []

    def get(self, sha: str) -> Attribution:
        noted = read_note(self.attributor.git, sha)
        if noted is not None and noted.mark == self.attributor.mark:
            return noted
        self.recomputed.append(sha)
        return self.attributor.commit(sha)
