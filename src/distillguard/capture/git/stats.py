"""``stats``: the share of added lines that came from outside models, grouped several ways."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from distillguard.capture.git.attribute import Attribution, FileAttribution

GROUPINGS = ("repo", "path", "author", "vendor", "month")


@dataclass
class Row:
    key: str
    added: int = 0  # lines added
    outside: int = 0  # of which came from recorded outside output
    commits: int = 0

    @property
    def share(self) -> float:
        return self.outside / self.added if self.added else 0.0


def _path_key(depth: int) -> Callable[[Attribution, FileAttribution], str]:
    def key(att: Attribution, f: FileAttribution) -> str:
        parts = f.path.split("/")
        return "/".join(parts[:depth]) if depth and len(parts) > depth else f.path

    return key


def stats(atts: Iterable[Attribution], by: str, depth: int = 0) -> list[Row]:
    """Rows sorted by key; for ``vendor`` each row's ``added`` is every added line (the share
    is of all added lines) and a ``(none)`` row holds the lines from no output."""
    rows: dict[str, Row] = {}
    total = 0
    for att in atts:
        total += att.added
        if by == "vendor":
            _by_vendor(rows, att)
            continue
        for f in att.files:
            key = _key(by, depth)(att, f)
            row = rows.setdefault(key, Row(key))
            row.added += f.added
            row.outside += f.attributed
        for key in {_key(by, depth)(att, f) for f in att.files}:
            rows[key].commits += 1
    if by == "vendor":
        for row in rows.values():
            row.added = total
    return [rows[k] for k in sorted(rows)]


def _key(by: str, depth: int) -> Callable[[Attribution, FileAttribution], str]:
    keys: dict[str, Callable[[Attribution, FileAttribution], str]] = {
        "repo": lambda att, f: ".",
        "path": _path_key(depth),
        "author": lambda att, f: f"{att.author_name} <{att.author_email}>",
        "month": lambda att, f: att.author_date[:7],
    }
    return keys[by]


def _by_vendor(rows: dict[str, Row], att: Attribution) -> None:
    total = att.added
    per_vendor: dict[str, int] = {}
    for f in att.files:
        seen: set[int] = set()
        for c in f.contributions:
            lines = {n for s, e in c.ranges for n in range(s, e + 1)} - seen
            seen |= lines
            per_vendor[c.vendor] = per_vendor.get(c.vendor, 0) + len(lines)
    per_vendor["(none)"] = total - sum(per_vendor.values())
    for vendor, n in per_vendor.items():
        row = rows.setdefault(vendor, Row(vendor))
        row.outside += n
        row.commits += 1 if n else 0
