"""Line-level edits shared by code kinds, and edits of prose paragraphs."""

from __future__ import annotations

import random
import re
import textwrap

SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`\"'])")


def partial(text: str, rng: random.Random, low: float = 0.5, high: float = 0.7) -> str:
    """A contiguous 50-70% of the lines."""
    lines = text.rstrip("\n").splitlines()
    k = max(1, round(len(lines) * rng.uniform(low, high)))
    start = rng.randint(0, len(lines) - k)
    return "\n".join(lines[start : start + k]) + "\n"


def lines_edited(text: str, rng: random.Random, donor_lines: list[str]) -> str:
    """Delete 1-3 lines and insert 1-3 lines taken from other real files."""
    lines = text.rstrip("\n").splitlines()
    for _ in range(rng.randint(1, 3)):
        if len(lines) > 4:
            del lines[rng.randint(1, len(lines) - 2)]
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(1, len(lines) - 1)
        neighbour = lines[at]
        indent = neighbour[: len(neighbour) - len(neighbour.lstrip())]
        lines.insert(at, indent + rng.choice(donor_lines).strip())
    return "\n".join(lines) + "\n"


# --- prose ----------------------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    flat = " ".join(text.split())
    return [s for s in SENTENCE_RE.split(flat) if s]


def _wrap(text: str, width: int) -> str:
    return textwrap.fill(text, width=width, break_on_hyphens=False) + "\n"


def _width(text: str) -> int:
    return max((len(ln) for ln in text.splitlines()), default=72)


def prose_partial(text: str, rng: random.Random) -> str:
    """A contiguous 50-70% of the words, starting at a sentence boundary when there is one."""
    sents = sentences(text)
    words = " ".join(sents).split()
    target = round(len(words) * rng.uniform(0.5, 0.7))
    starts, pos = [], 0
    for s in sents:
        starts.append(pos)
        pos += len(s.split())
    starts = [s for s in starts if s + target <= len(words)] or [0]
    begin = rng.choice(starts)
    return _wrap(" ".join(words[begin : begin + target]), _width(text))


def sentences_edited(text: str, rng: random.Random, donor_sentences: list[str]) -> str:
    """Delete a sentence, insert one from another document, and swap a few words."""
    sents = sentences(text)
    if len(sents) >= 3:
        del sents[rng.randrange(1, len(sents))]
    sents.insert(rng.randint(0, len(sents)), rng.choice(donor_sentences))
    words = " ".join(sents).split()
    donor_words = rng.choice(donor_sentences).split()
    for _ in range(rng.randint(2, 4)):
        words[rng.randrange(len(words))] = rng.choice(donor_words)
    return _wrap(" ".join(words), _width(text))


def reflow(text: str, rng: random.Random) -> str:
    """Re-wrap, and change whitespace, punctuation, case and inline markup."""
    flat = " ".join(text.split())
    flat = re.sub(r"[`*]", "", flat) if rng.random() < 0.7 else flat
    if rng.random() < 0.5:
        flat = re.sub(r"([.!?]) ", r"\1  ", flat)
    if rng.random() < 0.5:
        flat = flat.replace(", ", "; ", 1).replace(" - ", " -- ")
    if rng.random() < 0.4:
        flat = flat.replace("'", "\u2019")
    if rng.random() < 0.5:
        flat = flat.lower()
    width = rng.choice([50, 60, 66, 80, 100, 10_000])
    if width == 10_000:
        return flat + "\n"
    return "\n".join(textwrap.wrap(flat, width=width, break_on_hyphens=False)) + "\n"


def prose_combined(text: str, rng: random.Random, donor_sentences: list[str]) -> str:
    return reflow(sentences_edited(prose_partial(text, rng), rng, donor_sentences), rng)
