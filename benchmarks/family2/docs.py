"""Documents in three shapes, positives and negatives, each labelled when it is made.

- ``chat``: an SFT JSONL file of ``{"messages": [...]}`` records, 2-6 turns (sometimes a system
  prompt); the copy sits in an assistant turn (or, a quarter of the time, a user turn), the
  other turns are host material;
- ``parquet``: a code-analysis dataset ``{"id", "code", "language"}``; a row is a copy alone or
  a copy embedded in a host file, or (negatives) a host unit or file;
- ``repo``: a directory of real host files; a copy is embedded in a host file of its language
  at a top-level boundary (a paragraph in a host text file), whole answers are files of their own.

Positives carry one part of one answer after one edit. Negatives: ``clean`` (host material as
is), ``user_code`` (the user's own code an answer's request quoted), ``boilerplate`` (an
independently drawn Dockerfile, CI workflow or argparse main), ``independent`` (another real
unit with the same name as an answer's unit, or, for SQL, on the same relations).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from . import boiler, edits, lex
from .answers import LANG_NAME, Answer, Part
from .material import HostFile, Material
from .truth import RunIndex
from .units import Unit, names_in_sql

POS_QUOTA = {
    "chat": {"whole": 180, "code_block": 260, "function": 90, "paragraph": 170},
    "parquet": {"whole": 110, "code_block": 300, "function": 200},
    "repo": {"whole": 110, "code_block": 240, "function": 160, "paragraph": 160},
}
NEG_QUOTA = {
    "chat": {"clean": 260, "user_code": 110, "boilerplate": 80, "independent": 120},
    "parquet": {"clean": 300, "user_code": 110, "boilerplate": 80, "independent": 150},
    "repo": {"clean": 300, "user_code": 110, "boilerplate": 80, "independent": 130},
}
DISTRACTOR_SHARE = 0.2  # answers recorded but never copied anywhere

QUESTIONS = (
    "Why does this fail when the input is empty?",
    "Can you explain what this does, step by step?",
    "How do I make this faster?",
    "Is there a simpler way to write this?",
    "What's the difference between these two approaches?",
    "How should I test this?",
    "Can you tidy this up?",
    "Where would you put the error handling?",
)
SYSTEM = (
    "You are a helpful coding assistant.",
    "You are an expert software engineer. Answer concisely.",
    "You help developers with code reviews and debugging.",
)
BOILER_ASK = {
    "dockerfile": "How do I containerize this service?",
    "ci": "Can you set up CI for the repository?",
    "argparse": "Give me a command-line entry point for this script.",
}


@dataclass
class Doc:
    shape: str
    label: bool
    part: str  # positives: whole | code_block | function | paragraph
    edit: str  # positives: the edit; negatives: the negative type
    lang: str
    answer: int | None
    payload: dict
    note: str = ""
    holds: list[int] = field(default_factory=list)
    name: str = ""
    share: float | None = None  # positives: the part's length / the answer's length

    def strings(self) -> list[str]:
        if self.shape == "chat":
            return [m["content"] for m in self.payload["messages"]]
        return [self.payload["code" if self.shape == "parquet" else "text"]]

    def text(self) -> str:
        return "\n\n".join(self.strings())

    def meta(self) -> dict:
        keys = (
            "shape",
            "label",
            "part",
            "edit",
            "lang",
            "answer",
            "note",
            "holds",
            "name",
            "share",
        )
        return {k: getattr(self, k) for k in keys}


def substantial(text: str, lang: str) -> bool:
    """Enough to be a copy at all: 150 non-blank characters of code, or 25 words of prose."""
    if lang == "prose":
        return len(text.split()) >= 25
    return len("".join(text.split())) >= 150


def fenced(text: str, lang: str) -> str:
    return f"```{lex.FENCE.get(lang, lang)}\n{text}\n```"


def embed(host: str, insert: str, rng: random.Random) -> str:
    """``insert`` placed in ``host`` at a top-level boundary (a blank line, then column 0)."""
    lines = host.rstrip("\n").split("\n")
    spots = [
        i
        for i in range(1, len(lines))
        if not lines[i - 1].strip() and lines[i][:1] and not lines[i][:1].isspace()
    ]
    if not spots:
        return host.rstrip("\n") + "\n\n" + insert + "\n"
    at = rng.choice(spots)
    return "\n".join([*lines[:at], *insert.split("\n"), "", *lines[at:]]) + "\n"


class Builder:
    def __init__(self, m: Material, answers: list[Answer], index: RunIndex, seed: int) -> None:
        self.rng = random.Random(f"docs-{seed}")
        self.m, self.answers, self.index = m, answers, index
        self.dropped: Counter[str] = Counter()
        self._host_ok: dict[str, bool] = {}
        copied = [a for a in answers if self.rng.random() >= DISTRACTOR_SHARE]
        self.parts: dict[str, list[Part]] = defaultdict(list)
        for a in copied:
            for p in a.parts():
                self.parts[p.kind].append(p)
        self.clean_hosts = {
            lang: self.rng.sample(files, len(files)) for lang, files in m.host_files.items()
        }
        self.pairs = self._independent_pairs()

    # -------------------------------------------------------------- material

    def host_ok(self, host: HostFile) -> bool:
        if host.path not in self._host_ok:
            self._host_ok[host.path] = not self.index.runs(host.text)
        return self._host_ok[host.path]

    def host(self, lang: str) -> HostFile | None:
        files = self.m.host_files.get(lang, [])
        for _ in range(20):
            if not files:
                return None
            h = self.rng.choice(files)
            if self.host_ok(h):
                return h
        return None

    def host_unit(self) -> Unit:
        lang = self.rng.choice([x for x in lex.LANGS if self.m.host_units[x]])
        return self.rng.choice(self.m.host_units[lang])

    def filler_user(self, code: bool = True) -> str:
        q = self.rng.choice(QUESTIONS)
        if code and self.rng.random() < 0.4:
            u = self.host_unit()
            return f"{q}\n\n{fenced(u.text, u.lang)}"
        return q

    def filler_assistant(self, code: bool = True) -> str:
        paras = self.rng.sample(self.m.host_paras, self.rng.randint(1, 2))
        if code and self.rng.random() < 0.4:
            u = self.host_unit()
            paras.insert(1, fenced(u.text, u.lang))
        return "\n\n".join(paras)

    def chat(self, turns: dict[int, str], n: int, code: bool = True) -> dict:
        """Messages of ``n`` alternating turns (user first); ``turns`` fixes some of them; the
        others are host material (prose only unless ``code``)."""
        msgs = []
        if self.rng.random() < 0.3:
            msgs.append({"role": "system", "content": self.rng.choice(SYSTEM)})
        for i in range(n):
            role = "user" if i % 2 == 0 else "assistant"
            content = turns.get(i) or (
                self.filler_user(code) if role == "user" else self.filler_assistant(code)
            )
            msgs.append({"role": role, "content": content})
        return {"messages": msgs}

    def _turn_for(self, role: str, n: int) -> int:
        return self.rng.choice([i for i in range(n) if (i % 2 == 0) == (role == "user")])

    # -------------------------------------------------------------- positives

    def positives(self, shape: str) -> list[Doc]:
        out = []
        for kind, quota in POS_QUOTA[shape].items():
            parts = [p for p in self.parts[kind] if self._fits(shape, p)]
            self.rng.shuffle(parts)
            counts: Counter[str] = Counter()
            for part in parts:
                if sum(counts.values()) >= quota:
                    break
                if not substantial(part.text, part.lang):
                    continue
                edit, text = self._edit(part, counts)
                doc = self._place(shape, part, edit, text) if substantial(text, part.lang) else None
                if doc is None:
                    continue
                doc.share = round(len(part.text) / len(self.answers[part.answer].text), 3)
                runs = self.index.runs(doc.text())
                doc.holds = sorted({part.answer, *runs})
                counts[edit] += 1
                out.append(doc)
        return out

    def _fits(self, shape: str, part: Part) -> bool:
        if shape != "parquet":
            return True
        return part.kind != "paragraph" and (part.kind != "whole" or part.lang != "markdown")

    def _edit(self, part: Part, counts: Counter[str]) -> tuple[str, str]:
        if part.kind == "whole":
            return "verbatim", part.text
        names = edits.PROSE_EDITS if part.lang == "prose" else edits.CODE_EDITS
        order = sorted(names, key=lambda e: (counts[e], self.rng.random()))
        for edit in order:
            out = edits.apply(edit, part.text, part.lang, self.rng, self.m.pools)
            if out is not None:
                return edit, out
        return "verbatim", part.text

    def _place(self, shape: str, part: Part, edit: str, text: str) -> Doc | None:
        doc = Doc(shape, True, part.kind, edit, part.lang, part.answer, {})
        answer = self.answers[part.answer]
        if shape == "chat":
            doc.payload = self._chat_positive(part, text, answer)
            return doc
        code_lang = part.lang if part.lang in lex.LANGS else ""
        host = self.host(code_lang or "prose") if part.kind != "whole" else None
        if shape == "parquet":
            if host is not None and self.rng.random() < 0.5:
                text, doc.note = embed(host.text, text, self.rng), f"in host {host.path}"
            doc.payload = {"code": text, "language": part.lang}
            return doc
        if part.kind == "whole":
            folder = part.lang if part.lang != "markdown" else "docs"
            name = answer.path or f"{answer.kind}-notes.md"
            doc.payload = {"path": f"{folder}/{name}", "text": text + "\n"}
            return doc
        if host is None:
            return None
        doc.note = f"in host {host.path}"
        doc.payload = {"path": self._repo_path(host), "text": embed(host.text, text, self.rng)}
        return doc

    def _chat_positive(self, part: Part, text: str, answer: Answer) -> dict:
        rng = self.rng
        n = rng.randint(2, 6)
        if part.kind == "whole":
            first = 0 if rng.random() < 0.7 else 2
            n = max(n, first + 2)
            ask = answer.request if rng.random() < 0.6 else self.filler_user()
            return self.chat({first: ask, first + 1: text}, n)
        role = "user" if rng.random() < 0.25 else "assistant"
        if part.lang == "prose":
            content = text
            if rng.random() < 0.5:
                content = f"{rng.choice(self.m.host_paras)}\n\n{text}"
        elif role == "user":
            content = f"{rng.choice(QUESTIONS)}\n\n{fenced(text, part.lang)}"
        else:
            content = f"Here you go:\n\n{fenced(text, part.lang)}"
            if rng.random() < 0.5:
                content += "\n\n" + rng.choice(self.m.host_paras)
        return self.chat({self._turn_for(role, n): content}, n)

    def _repo_path(self, host: HostFile) -> str:
        folder = host.lang if host.lang != "prose" else "docs"
        return f"{folder}/{host.group.replace('/', '_').replace('#', '_')}/{host.name}"

    # -------------------------------------------------------------- negatives

    def negatives(self, shape: str) -> list[Doc]:
        out = []
        makers = {
            "clean": self._clean,
            "user_code": self._user_code,
            "boilerplate": self._boilerplate,
            "independent": self._independent,
        }
        for kind, quota in NEG_QUOTA[shape].items():
            made = 0
            for doc in makers[kind](shape):
                if made >= quota:
                    break
                if doc is None:
                    continue
                if self.index.runs(doc.text()):
                    self.dropped[f"{shape}:{kind}"] += 1
                    continue
                out.append(doc)
                made += 1
        return out

    def _neg(self, shape: str, kind: str, lang: str, payload: dict, note: str = "") -> Doc:
        return Doc(shape, False, "", kind, lang, None, payload, note)

    def _clean(self, shape: str):
        rng = self.rng
        while True:
            if shape == "chat":
                yield self._neg(shape, "clean", "chat", self.chat({}, rng.randint(2, 6)))
                continue
            lang = rng.choice([*lex.LANGS, "prose"] if shape == "repo" else list(lex.LANGS))
            if shape == "parquet" and rng.random() < 0.5:
                u = rng.choice(self.m.host_units[lang])
                yield self._neg(shape, "clean", lang, {"code": u.text, "language": lang}, u.key)
                continue
            hosts = self.clean_hosts[lang]
            if not hosts:
                if not any(self.clean_hosts.values()):
                    return
                continue
            h = hosts.pop()
            payload = (
                {"code": h.text, "language": lang}
                if shape == "parquet"
                else {"path": self._repo_path(h), "text": h.text}
            )
            yield self._neg(shape, "clean", lang, payload, h.path)

    def _user_code(self, shape: str):
        rng = self.rng
        owners = [a for a in self.answers if a.user_unit is not None]
        rng.shuffle(owners)
        by_path = {h.path: h for files in self.m.host_files.values() for h in files}
        for a in owners:
            u = a.user_unit
            assert u is not None
            note = f"user code of answer {a.idx} ({u.key})"
            if shape == "chat":
                ask = f"{rng.choice(QUESTIONS)}\n\n{fenced(u.text, u.lang)}"
                payload = self.chat({0: ask}, rng.choice([2, 2, 4]), code=False)
            elif shape == "parquet":
                payload = {"code": u.text, "language": u.lang}
            else:
                own = by_path.get(u.path)
                host = own if own is not None and rng.random() < 0.6 else self.host(u.lang)
                if host is None:
                    continue
                text = host.text if host is own else embed(host.text, u.text, rng)
                payload = {"path": self._repo_path(host), "text": text}
                note += " in its own file" if host is own else f" in host {host.path}"
            yield self._neg(shape, "user_code", u.lang, payload, note)

    def _boilerplate(self, shape: str):
        rng = self.rng
        n = 0
        while True:
            kind = rng.choice(boiler.KINDS)
            text, lang = boiler.make(kind, rng), boiler.LANG[kind]
            if shape == "chat":
                reply = f"{fenced(text, lang)}"
                if rng.random() < 0.5:
                    reply += "\n\n" + rng.choice(self.m.host_paras)
                payload = self.chat({0: BOILER_ASK[kind], 1: reply}, 2)
            elif shape == "parquet":
                payload = {"code": text, "language": lang}
            else:
                n += 1
                payload = {
                    "path": f"services/svc{n:03d}/{boiler.FILENAME[kind]}",
                    "text": text + "\n",
                }
            yield self._neg(shape, "boilerplate", lang, payload, kind)

    def _independent_pairs(self) -> list[tuple[Answer, Unit, Unit]]:
        by_name: dict[str, list[Unit]] = defaultdict(list)
        by_rel: dict[str, list[Unit]] = defaultdict(list)
        for lang, found in self.m.host_units.items():
            for u in found:
                by_name[f"{lang}:{u.name.lower()}"].append(u)
                if lang == "sql":
                    for rel in names_in_sql(u.text):
                        by_rel[rel].append(u)
        pairs = []
        for a in self.answers:
            for piece in a.pieces:
                for unit in piece.units if piece.own else []:
                    same = [
                        u
                        for u in by_name[f"{unit.lang}:{unit.name.lower()}"]
                        if u.text != unit.text
                    ]
                    if unit.lang == "sql" and not same:
                        rels = sorted(names_in_sql(unit.text))
                        near = Counter(u.key for r in rels for u in by_rel[r])
                        keyed = {u.key: u for r in rels for u in by_rel[r]}
                        same = [keyed[k] for k, c in near.items() if c >= 2]
                    if same:
                        same = sorted(same, key=lambda u: (u.path, u.line))
                        pairs.append((a, unit, self.rng.choice(same)))
        self.rng.shuffle(pairs)
        return pairs

    def _independent(self, shape: str):
        rng = self.rng
        used: set[str] = set()
        by_path = {h.path: h for files in self.m.host_files.values() for h in files}
        for a, theirs, u in self.pairs:
            if u.key in used:
                continue
            used.add(u.key)
            note = f"{u.key}, independent of `{theirs.name}` in answer {a.idx}"
            if shape == "chat":
                ask = f"How would I write `{u.name}` in {LANG_NAME[u.lang]}?"
                payload = self.chat(
                    {0: ask, 1: fenced(u.text, u.lang)}, rng.choice([2, 4]), code=False
                )
            elif shape == "parquet":
                payload = {"code": u.text, "language": u.lang}
            else:
                own = by_path.get(u.path)
                host = own if own is not None and rng.random() < 0.5 else self.host(u.lang)
                if host is None:
                    continue
                text = host.text if host is own else embed(host.text, u.text, rng)
                payload = {"path": self._repo_path(host), "text": text}
            yield self._neg(shape, "independent", u.lang, payload, note)


def build(m: Material, answers: list[Answer], seed: int) -> tuple[list[Doc], dict]:
    index = RunIndex([a.own_text() for a in answers])
    b = Builder(m, answers, index, seed)
    docs: list[Doc] = []
    for shape in POS_QUOTA:
        docs += b.positives(shape) + b.negatives(shape)
    info = {
        "dropped_negatives": dict(sorted(b.dropped.items())),
        "independent_pairs": len(b.pairs),
        "copied_answers": len({p.answer for ps in b.parts.values() for p in ps}),
    }
    return docs, info
