"""Open an attributor for a repository: bring the index up to date, then match against it."""

from __future__ import annotations

from distillguard.capture.git.attribute import Attribution, Attributor, OutputText
from distillguard.capture.git.notes import mark_of, write_note
from distillguard.capture.git.repo import Git
from distillguard.config import Settings
from distillguard.index.build import IndexBuilder
from distillguard.index.store import Index
from distillguard.ledger import Ledger
from distillguard.scan.matcher import Matcher, MatchParams


def open_attributor(
    git: Git,
    settings: Settings,
    ledger: Ledger,
    *,
    workers: int = 1,
    params: MatchParams | None = None,
) -> Attributor:
    """An attributor over every vendor's outputs (policy decides later which ones matter)."""
    IndexBuilder(ledger, settings.index_dir, workers=workers).update(replace_other_settings=True)
    index = Index.open(settings.index_dir)
    matcher = Matcher(index, lambda vendor: True, params)
    return Attributor(git, matcher, mark_of(index.manifest), _texts(ledger))


def _texts(ledger: Ledger) -> OutputText:
    """Outputs' texts by id, read from the ledger once each."""
    cache: dict[str, str | None] = {}

    def text(output_id: str) -> str | None:
        if output_id not in cache:
            found = ledger.get(output_id)
            cache[output_id] = found.text if found is not None else None
        return cache[output_id]

    return text


def attribute_commits(attributor: Attributor, revs: list[str]) -> list[Attribution]:
    """Attribute each commit from content and (re)write its note."""
    done = []
    for rev in revs:
        att = attributor.commit(rev)
        write_note(attributor.git, att)
        done.append(att)
    return done
