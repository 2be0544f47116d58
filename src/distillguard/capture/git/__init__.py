"""Git attribution: which lines of which commit came from recorded outside-model output.

``Attributor`` matches the new content of a commit's files against the ledger's index and keeps
the added lines the evidence covers; ``notes`` caches the result as Agent Trace records on
``refs/notes/distillguard``; ``hooks`` installs the post-commit/post-rewrite hooks that run it.
"""

from distillguard.capture.git.attribute import (
    Attribution,
    Attributor,
    Contribution,
    FileAttribution,
)
from distillguard.capture.git.notes import NOTES_REF, Attributions, read_note, write_note
from distillguard.capture.git.repo import STAGED, CommitInfo, Git
from distillguard.capture.git.session import open_attributor

__all__ = [
    "NOTES_REF",
    "STAGED",
    "Attribution",
    "Attributions",
    "Attributor",
    "CommitInfo",
    "Contribution",
    "FileAttribution",
    "Git",
    "open_attributor",
    "read_note",
    "write_note",
]
