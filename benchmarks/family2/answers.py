"""Assistant answers written for the purpose, out of real code and prose.

Three kinds, as a coding assistant produces them:

- ``chat``: markdown, 1-3 prose paragraphs and 2-5 fenced code blocks in mixed languages (a
  block holds one unit, sometimes two consecutive units of one file), short lead-in lines,
  sometimes a boilerplate block (Dockerfile, CI workflow, argparse main);
- ``file``: a tool-call file write, the whole text one file (the file's import lines, then 1-4
  consecutive units of one source file);
- ``review`` / ``commit``: a code review (paragraphs, sometimes a suggested block) or a commit
  message (subject, paragraphs wrapped at 72), mostly prose.

Every answer has a ``request``. In about 30% of chat, file and review answers the request
quotes the user's own code (a real unit from the host side) and the answer quotes part of it
back (chat, review) or keeps it whole in the file it writes: that text is the user's, never the
model's, so it is cut out of the answer's own text (``own_text``).
"""

from __future__ import annotations

import random
import re
import textwrap
from collections import deque
from dataclasses import dataclass, field

from . import boiler, lex
from .material import Material
from .units import Unit

LANG_WEIGHTS = {
    "python": 0.28,
    "javascript": 0.15,
    "sql": 0.09,
    "bash": 0.14,
    "perl": 0.17,
    "yaml": 0.17,
}
LANG_NAME = {
    "python": "Python",
    "javascript": "JavaScript",
    "sql": "SQL",
    "bash": "shell",
    "perl": "Perl",
    "yaml": "YAML",
}
VENDORS = (
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-opus-4-1"),
    ("openai", "gpt-5-codex"),
    ("openai", "gpt-4.1"),
    ("google", "gemini-2.5-pro"),
)
TOOL = {"chat": "chat", "file": "claude-code", "review": "codex", "commit": "claude-code"}
USER_CODE_SHARE = 0.3

LEADINS = (
    "Here's how that looks:",
    "Something like this:",
    "For example:",
    "You can do it like this:",
    "The updated version:",
    "Here is the full implementation:",
    "Then add the following:",
    "A minimal version:",
    "Putting it together:",
    "This is the part that matters:",
    "And the second piece:",
    "You could write it as follows:",
)
QUOTE_LEADINS = (
    "Looking at your `{name}`:",
    "In your current code:",
    "This part of your `{name}` is the problem:",
    "You have:",
    "Your version does this:",
)
BOILER_LEADINS = {
    "dockerfile": "To run it in a container, a Dockerfile like this works:",
    "ci": "And a CI workflow to run the checks on every push:",
    "argparse": "A small command-line entry point:",
}
ASK = (
    "How would I write `{name}` in {lang}?",
    "Can you show me a {lang} version of `{name}` and explain how it works?",
    "I need `{name}` for our codebase ({lang}). What's a clean way to do it?",
    "What does a good `{name}` look like in {lang}? Please explain the approach.",
    "Write `{name}` in {lang} and walk me through it.",
    "Could you help me implement `{name}`? We use {lang}.",
)
ASK_WITH_CODE = (
    "Here is my {lang} code:\n\n```{fence}\n{code}\n```\n\nCan you add `{name}` next to it and "
    "explain how the two fit together?",
    "This is what I have so far:\n\n```{fence}\n{code}\n```\n\nIt works, but I also need "
    "`{name}`. How should I write it?",
    "```{fence}\n{code}\n```\n\nWhat's wrong with this, and how would you write `{name}`?",
)


@dataclass
class Piece:
    kind: str  # para | code | quoted | boiler | text
    text: str
    lang: str = ""
    units: list[Unit] = field(default_factory=list)

    @property
    def own(self) -> bool:
        return self.kind != "quoted"


@dataclass
class Part:
    """A piece of an answer a positive document can hold."""

    answer: int
    kind: str  # whole | code_block | function | paragraph
    lang: str
    text: str
    name: str


@dataclass
class Answer:
    idx: int
    kind: str  # chat | file | review | commit
    lang: str
    pieces: list[Piece]
    request: str
    vendor: str
    model: str
    user_unit: Unit | None = None
    path: str = ""

    @property
    def source_id(self) -> str:
        return f"f2-answer-{self.idx:04d}"

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.pieces)

    def own_text(self) -> str:
        return "".join(p.text if p.own else "\x00" for p in self.pieces)

    def parts(self) -> list[Part]:
        whole_lang = self.lang if self.kind == "file" else "markdown"
        out = [Part(self.idx, "whole", whole_lang, self.text, self.path or self.kind)]
        for p in self.pieces:
            if p.kind == "para":
                out.append(Part(self.idx, "paragraph", "prose", p.text, ""))
            elif p.kind == "code" and self.kind != "file":
                out.append(Part(self.idx, "code_block", p.lang, p.text, p.units[0].name))
            if p.kind == "code" and (len(p.units) > 1 or self.kind == "file"):
                out += [Part(self.idx, "function", u.lang, u.text, u.name) for u in p.units]
        return out

    def record(self) -> dict:
        return {
            "text": self.text,
            "vendor": self.vendor,
            "model": self.model,
            "tool": TOOL[self.kind],
            "request": self.request,
            "source_id": self.source_id,
        }


class Composer:
    """Draws material without replacement and writes answers."""

    def __init__(self, m: Material, seed: int) -> None:
        self.rng = random.Random(f"answers-{seed}")
        self.m = m
        self.files = {}
        for lang in lex.LANGS:
            files = [list(f) for f in m.src_files[lang]]
            self.rng.shuffle(files)
            self.files[lang] = deque(files)
        self.paras = deque(self.rng.sample(m.src_paras, len(m.src_paras)))
        self.user = {lang: deque(self.rng.sample(u, len(u))) for lang, u in m.host_units.items()}

    def lang(self) -> str:
        langs = [lang for lang in LANG_WEIGHTS if self.files[lang]]
        return self.rng.choices(langs, [LANG_WEIGHTS[lang] for lang in langs])[0]

    def take_units(self, lang: str, k: int) -> list[Unit]:
        if not self.files[lang]:
            lang = self.lang()
        found = self.files[lang].popleft()
        taken, rest = found[:k], found[k:]
        if rest:
            self.files[lang].append(rest)
        return taken

    def para(self) -> str:
        text = self.paras.popleft()
        return textwrap.fill(text, 80) if self.rng.random() < 0.4 else text

    def user_unit(self, lang: str) -> Unit | None:
        if self.rng.random() >= USER_CODE_SHARE or not self.user.get(lang):
            return None
        return self.user[lang].popleft()

    def answer(self, idx: int, kind: str) -> Answer:
        vendor, model = self.rng.choice(VENDORS)
        a = {"chat": self.chat, "file": self.file, "review": self.review, "commit": self.commit}[
            kind
        ](idx)
        a.vendor, a.model = vendor, model
        return a

    # -------------------------------------------------------------- kinds

    def _fenced(
        self, kind: str, text: str, lang: str, units: list[Unit] | None = None
    ) -> list[Piece]:
        fence = lex.FENCE.get(lang, lang)
        return [
            Piece("text", f"```{fence}\n"),
            Piece(kind, text, lang, units or []),
            Piece("text", "\n```"),
        ]

    def _quote(self, user: Unit, lines: tuple[int, int]) -> list[Piece]:
        body = user.text.split("\n")
        n = self.rng.randint(*lines)
        start = self.rng.randint(0, max(0, len(body) - n))
        excerpt = "\n".join(body[start : start + n])
        lead = self.rng.choice(QUOTE_LEADINS).format(name=user.name)
        return [
            Piece("text", lead),
            Piece("text", "\n\n"),
            *self._fenced("quoted", excerpt, user.lang),
        ]

    @staticmethod
    def _join(blocks: list[list[Piece]]) -> list[Piece]:
        out: list[Piece] = []
        for i, block in enumerate(blocks):
            if i:
                out.append(Piece("text", "\n\n"))
            out += block
        out.append(Piece("text", "\n"))
        return out

    def _request(self, lang: str, name: str, user: Unit | None) -> str:
        if user is None:
            return self.rng.choice(ASK).format(name=name, lang=LANG_NAME[lang])
        return self.rng.choice(ASK_WITH_CODE).format(
            name=name, lang=LANG_NAME[lang], fence=lex.FENCE[user.lang], code=user.text
        )

    def chat(self, idx: int) -> Answer:
        rng = self.rng
        lang = self.lang()
        n_blocks, n_paras = rng.choice([2, 2, 3, 3, 4, 5]), rng.choice([1, 2, 2, 3])
        langs = [lang] + [lang if rng.random() < 0.5 else self.lang() for _ in range(n_blocks - 1)]
        code = [self.take_units(x, 2 if rng.random() < 0.3 else 1) for x in langs]
        user = self.user_unit(code[0][0].lang)
        paras = [self.para() for _ in range(n_paras)]
        blocks: list[list[Piece]] = [[Piece("para", paras[0])]]
        if user is not None:
            blocks.append(self._quote(user, (4, 12)))
        for i, units in enumerate(code):
            if rng.random() < 0.6:
                blocks.append([Piece("text", rng.choice(LEADINS))])
            text = "\n\n".join(u.text for u in units)
            blocks.append(self._fenced("code", text, units[0].lang, units))
            if i + 1 < len(paras):
                blocks.append([Piece("para", paras[i + 1])])
        if rng.random() < 0.15:
            kind = rng.choice(boiler.KINDS)
            blocks.append([Piece("text", BOILER_LEADINS[kind])])
            blocks.append(self._fenced("boiler", boiler.make(kind, rng), boiler.LANG[kind]))
        first = code[0][0]
        request = self._request(first.lang, first.name, user)
        return Answer(idx, "chat", first.lang, self._join(blocks), request, "", "", user)

    def file(self, idx: int) -> Answer:
        rng = self.rng
        units = self.take_units(self.lang(), rng.randint(1, 4))
        lang = units[0].lang
        path = re.sub(r"[^\w.-]", "_", units[0].name) + lex.EXT[lang]
        blocks: list[list[Piece]] = []
        header = _header(self.m.file_text.get(units[0].path, ""), lang)
        if header and rng.random() < 0.7:
            blocks.append([Piece("text", header)])
        body = [[Piece("code", u.text, lang, [u])] for u in units]
        user = self.user_unit(lang)
        if user is not None:
            body.insert(rng.randint(0, len(body)), [Piece("quoted", user.text, lang)])
        blocks += body
        names = ", ".join(f"`{u.name}`" for u in units)
        if user is None:
            request = f"Create `{path}` with {names}."
        else:
            request = (
                f"Here is `{path}` as it is now:\n\n```{lex.FENCE[lang]}\n{user.text}\n```\n\n"
                f"Keep `{user.name}` as it is, add {names}, and write the whole file."
            )
        return Answer(idx, "file", lang, self._join(blocks), request, "", "", user, path)

    def review(self, idx: int) -> Answer:
        rng = self.rng
        lang = self.lang()
        user = self.user_unit(lang)
        blocks: list[list[Piece]] = [[Piece("text", "A few comments on this change.")]]
        if user is not None:
            blocks.append(self._quote(user, (3, 8)))
        paras = [self.para() for _ in range(rng.randint(2, 4))]
        blocks += [[Piece("para", p)] for p in paras[:2]]
        name = user.name if user is not None else "this change"
        if rng.random() < 0.5:
            units = self.take_units(lang, 1)
            blocks.append([Piece("text", "I'd suggest something closer to this:")])
            blocks.append(self._fenced("code", units[0].text, units[0].lang, units))
            name = units[0].name if user is None else name
        blocks += [[Piece("para", p)] for p in paras[2:]]
        if user is None:
            request = f"Please review my pull request; it touches `{name}`."
        else:
            request = f"Please review this change:\n\n```{lex.FENCE[user.lang]}\n{user.text}\n```"
        return Answer(idx, "review", lang, self._join(blocks), request, "", "", user)

    def commit(self, idx: int) -> Answer:
        rng = self.rng
        lang = self.lang()
        name = self.user[lang][0].name if self.user.get(lang) else "the parser"
        verb = rng.choice(["Fix", "Handle", "Refactor", "Document", "Simplify", "Speed up"])
        subject = f"{verb} {name}" + rng.choice(
            ["", " error handling", " for empty input", " edge cases"]
        )
        blocks: list[list[Piece]] = [[Piece("text", subject)]]
        for _ in range(rng.randint(1, 3)):
            blocks.append([Piece("para", textwrap.fill(self.paras.popleft(), 72))])
        request = f"Write a commit message for my change to `{name}`."
        return Answer(idx, "commit", "prose", self._join(blocks), request, "", "", None)


def _header(text: str, lang: str) -> str:
    """The file's leading import (use, require, shebang) lines, up to 10."""
    pattern = {
        "python": r"^(import |from \S+ import )",
        "javascript": r"^(const .*require\(|import |'use strict')",
        "perl": r"^(use |#!)",
        "bash": r"^(#!|set -)",
    }.get(lang)
    if pattern is None:
        return ""
    lines = [ln for ln in text.split("\n")[:60] if re.match(pattern, ln) and len(ln) < 100]
    return "\n".join(lines[:10])


def compose(m: Material, seed: int, n: int) -> list[Answer]:
    """``n`` answers: 55% chat, 25% file writes, 12% reviews, 8% commit messages."""
    c = Composer(m, seed)
    kinds = c.rng.choices(["chat", "file", "review", "commit"], [0.55, 0.25, 0.12, 0.08], k=n)
    return [c.answer(i, kind) for i, kind in enumerate(kinds)]
