"""Apply one labelled edit to an output, whatever its kind."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from . import jsedits, pyedits, textedits

COMBOS = (
    ("renamed", "reformatted", "partial"),
    ("renamed", "comments", "lines_edited"),
    ("reformatted", "comments", "partial"),
    ("renamed", "reformatted", "lines_edited"),
)


@dataclass
class Donors:
    """Real material from host packages used to edit outputs (comments, lines, sentences)."""

    comments: dict[str, list[str]] = field(default_factory=dict)  # per code kind
    lines: dict[str, list[str]] = field(default_factory=dict)  # per code kind
    sentences: list[str] = field(default_factory=list)


def _code_step(kind: str, step: str, text: str, rng: random.Random, donors: Donors) -> str | None:
    mod = pyedits if kind == "py" else jsedits
    if step == "renamed":
        return mod.rename(text, rng)
    if step == "reformatted":
        return mod.reformat(text, rng)
    if step == "comments":
        return mod.change_comments(text, rng, donors.comments[kind])
    if step == "partial":
        return textedits.partial(text, rng)
    if step == "lines_edited":
        return textedits.lines_edited(text, rng, donors.lines[kind])
    raise ValueError(step)


def edit_code(
    kind: str, etype: str, text: str, rng: random.Random, donors: Donors
) -> tuple[str, str] | None:
    """(edited text, note) or None when this edit does not apply to this snippet."""
    if etype == "verbatim":
        return text, ""
    steps = list(rng.choice(COMBOS)) if etype == "combined" else [etype]
    out: str | None = text
    for step in steps:
        out = _code_step(kind, step, out, rng, donors) if out is not None else None
    if out is None or out.strip() == text.strip():
        return None
    return out, "+".join(steps)


PROSE_STEPS: dict[str, Callable[..., str]] = {
    "partial": textedits.prose_partial,
    "reflowed": textedits.reflow,
}


def edit_prose(etype: str, text: str, rng: random.Random, donors: Donors) -> tuple[str, str] | None:
    if etype == "verbatim":
        return text, ""
    if etype == "sentences_edited":
        out = textedits.sentences_edited(text, rng, donors.sentences)
    elif etype == "combined":
        out = textedits.prose_combined(text, rng, donors.sentences)
    else:
        out = PROSE_STEPS[etype](text, rng)
    if out.strip() == text.strip():
        return None
    return out, etype


def drops_header(etype: str, note: str) -> bool:
    """A partial copy starts mid-snippet, so it loses the license header the output carries."""
    return "partial" in (etype, *note.split("+"))
