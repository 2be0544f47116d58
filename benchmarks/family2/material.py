"""Load family 2's real material once: units and files on each side of the seeded split, prose
paragraphs, and the pools of real lines, comments and sentences that edits insert."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import lex, sources, units
from .edits import Pools
from .units import Unit

HOST_MIN, HOST_MAX = 800, 40_000


@dataclass
class HostFile:
    lang: str  # a code language, or "prose"
    group: str
    path: str
    text: str
    name: str


@dataclass
class Material:
    src_files: dict[str, list[list[Unit]]] = field(default_factory=dict)  # units per source file
    host_units: dict[str, list[Unit]] = field(default_factory=dict)
    host_files: dict[str, list[HostFile]] = field(default_factory=dict)
    file_text: dict[str, str] = field(default_factory=dict)
    src_paras: list[str] = field(default_factory=list)
    host_paras: list[str] = field(default_factory=list)
    pools: Pools = field(default_factory=Pools)
    stats: dict = field(default_factory=dict)


def load(repo: Path, cache: Path, seed: int) -> Material:
    m = Material()
    _load_code(m, repo, seed)
    _load_prose(m, cache, seed)
    return m


def _load_code(m: Material, repo: Path, seed: int) -> None:
    files = sources.code_files(repo, seed)
    texts: dict[sources.CodeFile, str] = {}
    for f in files:
        split = f.path.name in sources.SPLIT_SQL
        text = sources.read(f.path, 5000, 2_000_000) if split else sources.read(f.path)
        if text is not None:
            texts[f] = text
    groups: dict[str, list[str]] = defaultdict(list)
    cut: dict[sources.CodeFile, list[Unit]] = {}
    for f, text in texts.items():
        found = units.cut(text, f.lang, f.group, str(f.path))
        if f.path.name in sources.SPLIT_SQL:
            for k, u in enumerate(found):
                u.group = f"{f.group}#{k // sources.SPLIT_SQL_RUN}"
        cut[f] = found
        groups[f.lang] += [u.group for u in found] + [f.group]
    src_groups = set().union(*(sources.split_groups(g, seed, lang) for lang, g in groups.items()))
    for lang in lex.LANGS:
        m.src_files[lang], m.host_units[lang], m.host_files[lang] = [], [], []
    for f, found in cut.items():
        src = [u for u in found if u.group in src_groups]
        if src:
            m.src_files[f.lang].append(src)
            m.file_text[str(f.path)] = texts[f]
        m.host_units[f.lang] += [u for u in found if u.group not in src_groups]
        text = texts[f]
        hostable = f.group not in src_groups and f.path.name not in sources.SPLIT_SQL
        if hostable and HOST_MIN <= len(text) <= HOST_MAX:
            m.host_files[f.lang].append(HostFile(f.lang, f.group, str(f.path), text, f.path.name))
    _pools(m, seed)
    m.stats["code"] = {
        lang: {
            "source_files": len(m.src_files[lang]),
            "source_units": sum(map(len, m.src_files[lang])),
            "host_units": len(m.host_units[lang]),
            "host_files": len(m.host_files[lang]),
        }
        for lang in lex.LANGS
    }


def _pools(m: Material, seed: int) -> None:
    rng = random.Random(f"pools-{seed}")
    for lang in lex.LANGS:
        lines: set[str] = set()
        comments: set[str] = set()
        for host in m.host_files[lang]:
            for line in host.text.split("\n"):
                s = line.strip()
                if (
                    12 <= len(s) <= 90
                    and not re.match(r"^(#|//|--|/\*|\*|=\w)", s)
                    and re.search(r"\w{3}", s)
                ):
                    lines.add(s)
            for c in lex.comment_texts(host.text, lang):
                body = re.sub(r"^(#+|//+|--+|/\*+)|\*+/$", "", c).strip()
                if "\n" not in body and len(body.split()) >= 3 and len(body) <= 90:
                    comments.add(body)
        m.pools.lines[lang] = rng.sample(sorted(lines), min(4000, len(lines)))
        m.pools.comments[lang] = rng.sample(sorted(comments), min(2000, len(comments)))


def _load_prose(m: Material, cache: Path, seed: int) -> None:
    docs = sources.prose_files(cache, seed)
    src_groups = sources.split_groups([d.group for d in docs], seed, "prose")
    seen: set[str] = set()
    m.host_files["prose"] = []
    for d in docs:
        paras = []
        for p in sources.paragraphs(d.text):
            key = re.sub(r"\W+", " ", p.lower())
            if key not in seen:
                seen.add(key)
                paras.append(p)
        if d.group in src_groups:
            m.src_paras += paras
            continue
        m.host_paras += paras
        if HOST_MIN <= len(d.text) <= HOST_MAX and paras:
            m.host_files["prose"].append(HostFile("prose", d.group, d.name, d.text, d.name))
    m.pools.sentences = [
        s for p in m.host_paras for s in sources.sentences(p) if 6 <= len(s.split()) <= 40
    ]
    m.stats["prose"] = {
        "documents": len(docs),
        "source_paragraphs": len(m.src_paras),
        "host_paragraphs": len(m.host_paras),
        "host_files": len(m.host_files["prose"]),
    }
