"""Replacement identifiers for consistent renaming."""

from __future__ import annotations

import random

WORDS = (
    "value",
    "item",
    "data",
    "result",
    "node",
    "entry",
    "obj",
    "buf",
    "key",
    "elem",
    "arg",
    "tmp",
    "acc",
    "out",
    "src",
    "dst",
    "target",
    "record",
    "payload",
    "part",
    "chunk",
    "token",
    "state",
    "ctx",
    "opts",
    "cfg",
    "handler",
    "callback",
    "fn",
    "res",
    "val",
    "count",
    "total",
    "index",
    "pos",
    "label",
    "field",
    "info",
    "spec",
    "current",
    "prev",
    "head",
    "tail",
    "cursor",
    "batch",
    "slot",
    "cell",
    "row",
    "col",
    "span",
    "step",
    "limit",
    "offset",
    "size",
    "width",
    "flag",
    "mode",
    "kind",
    "tag",
    "ref",
    "handle",
    "stream",
    "sink",
    "source",
    "parent",
    "child",
)


def _style(words: list[str], style: str) -> str:
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    return "_".join(words)


def fresh_names(
    names: list[str], rng: random.Random, taken: set[str], style: str = "snake"
) -> dict[str, str]:
    """Map each name to a new identifier not in ``taken`` nor used by another mapping."""
    used = set(taken)
    mapping = {}
    for name in names:
        for _ in range(100):
            words = rng.sample(WORDS, k=rng.choice((1, 1, 2)))
            new = _style(words, style)
            if name[:1].isupper():
                new = new[:1].upper() + new[1:]
            if new not in used:
                break
        else:
            new = f"{name}_{len(used)}"
        used.add(new)
        mapping[name] = new
    return mapping
