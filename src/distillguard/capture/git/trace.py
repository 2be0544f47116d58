"""Attributions as Agent Trace records (https://agent-trace.dev, schema v1 trace-record.json).

One record per commit: ``vcs`` names the commit, ``files`` -> ``conversations`` (one per recorded
output, its ``url`` a ``urn:distillguard:output:<id>``) -> ``contributor`` (``type: ai``,
``model_id: vendor/model``) and ``ranges`` (1-based, inclusive ``start_line``/``end_line`` of
the lines that commit added, with a ``content_hash`` of their text). What the spec has no field
for lives under ``metadata["dev.distillguard"]``: per output its vendor, model and containment,
the added line count of every changed file (the denominator of ``stats``), the AI co-author
trailers, the author, and the ledger position the record was computed against.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from distillguard import __version__
from distillguard.capture.git.attribute import Attribution, Contribution, FileAttribution
from distillguard.capture.git.trailers import Coauthor
from distillguard.errors import InputError

SPEC_VERSION = "0.1"
NAMESPACE = "dev.distillguard"
URN = "urn:distillguard:output:"


def to_record(att: Attribution, text_of: dict[str, str], now: datetime | None = None) -> Any:
    """The Agent Trace record of an attribution; ``text_of`` gives file texts for hashes."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": SPEC_VERSION,
        "id": str(uuid.uuid4()),
        "timestamp": stamp,
        "vcs": {"type": "git", "revision": att.revision},
        "tool": {"name": "distillguard", "version": __version__},
        "files": [_file(f, text_of.get(f.path, "")) for f in att.files if f.contributions],
        "metadata": {NAMESPACE: _meta(att)},
    }


def _file(f: FileAttribution, text: str) -> dict[str, Any]:
    lines = text.splitlines()
    return {
        "path": f.path,
        "conversations": [
            {
                "url": URN + c.output_id,
                "contributor": {"type": "ai", "model_id": f"{c.vendor}/{c.model}"[:250]},
                "ranges": [
                    {"start_line": s, "end_line": e, "content_hash": _hash(lines[s - 1 : e])}
                    for s, e in c.ranges
                ],
            }
            for c in f.contributions
        ],
    }


def _hash(lines: list[str]) -> str:
    return "sha256:" + hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def _meta(att: Attribution) -> dict[str, Any]:
    outputs = {
        c.output_id: {"vendor": c.vendor, "model": c.model, "containment": c.containment}
        for f in att.files
        for c in f.contributions
    }
    return {
        "ai_assisted": att.ai_assisted,
        "coauthors": [
            {"tool": c.tool, "vendor": c.vendor, "trailer": c.trailer} for c in att.coauthors
        ],
        "author": {"name": att.author_name, "email": att.author_email, "date": att.author_date},
        "added_lines": {f.path: f.added for f in att.files},
        "added_ranges": {f.path: [list(r) for r in f.added_ranges] for f in att.files},
        "outputs": outputs,
        "mark": att.mark,
    }


def from_record(record: Any) -> Attribution:
    """The attribution a record holds; ``InputError`` if it is not one of ours."""
    try:
        meta = record["metadata"][NAMESPACE]
        outputs = meta["outputs"]
        contributed = {f["path"]: _contributions(f, outputs) for f in record["files"]}
        added = meta["added_ranges"]
        files = tuple(
            FileAttribution(
                path,
                int(n),
                contributed.get(path, ()),
                tuple((int(s), int(e)) for s, e in added[path]),
            )
            for path, n in meta["added_lines"].items()
        )
        author = meta["author"]
        return Attribution(
            revision=record["vcs"]["revision"],
            author_name=author["name"],
            author_email=author["email"],
            author_date=author["date"],
            files=files,
            coauthors=tuple(
                Coauthor(c["tool"], c["vendor"], c["trailer"]) for c in meta["coauthors"]
            ),
            mark=meta.get("mark", ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"not a distillguard Agent Trace record: {exc!r}") from exc


def _contributions(f: Any, outputs: Any) -> tuple[Contribution, ...]:
    found = []
    for conv in f["conversations"]:
        output_id = conv["url"].removeprefix(URN)
        info = outputs[output_id]
        found.append(
            Contribution(
                output_id,
                info["vendor"],
                info["model"],
                float(info["containment"]),
                tuple((int(r["start_line"]), int(r["end_line"])) for r in conv["ranges"]),
            )
        )
    return tuple(found)
