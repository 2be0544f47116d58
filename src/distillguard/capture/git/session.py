"""Open an attributor for a repository: bring the index up to date, then match against it."""

from __future__ import annotations

from distillguard.capture.git.attribute import Attribution, Attributor
from distillguard.capture.git.notes import mark_of, write_note
from distillguard.capture.git.repo import Git
from distillguard.config import Settings
from distillguard.index.build import IndexBuilder, OutputSource
from distillguard.index.store import Index
from distillguard.scan.matcher import Matcher, MatchParams


def open_attributor(
    git: Git,
    settings: Settings,
    ledger: OutputSource,
    *,
    workers: int = 1,
    params: MatchParams | None = None,
) -> Attributor:
    """An attributor over every vendor's outputs (policy decides later which ones matter)."""
    IndexBuilder(ledger, settings.index_dir, workers=workers).update()
    index = Index.open(settings.index_dir)
    matcher = Matcher(index, lambda vendor: True, params)
    return Attributor(git, matcher, mark_of(index.manifest))


def attribute_commits(attributor: Attributor, revs: list[str]) -> list[Attribution]:
    """Attribute each commit from content and (re)write its note."""
    done = []
    for rev in revs:
        att = attributor.commit(rev)
        write_note(attributor.git, att)
        done.append(att)
    return done
