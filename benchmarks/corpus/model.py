"""Records of the detection-quality corpus: extracted units, ledger outputs, documents."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CODE_KINDS = ("py", "js")
KINDS = ("py", "js", "prose")

CODE_EDITS = (
    "verbatim",
    "renamed",
    "reformatted",
    "comments",
    "partial",
    "lines_edited",
    "combined",
)
PROSE_EDITS = ("verbatim", "partial", "sentences_edited", "reflowed", "combined")
NEGATIVE_TYPES = ("clean_host", "sibling", "license_header", "trivial")


@dataclass(frozen=True)
class Unit:
    """A function, class or paragraph taken from a real file.

    ``start`` and ``end`` are 1-based inclusive line numbers in the source file for code, and
    paragraph numbers for prose. ``text`` is dedented code or a paragraph.
    """

    kind: str
    text: str
    package: str
    path: str
    start: int
    end: int
    name: str = ""


@dataclass
class LedgerOutput:
    """One output recorded in the ledger; ``role`` says what the corpus does with it."""

    idx: int
    kind: str
    text: str
    vendor: str
    model: str
    source_id: str
    package: str
    path: str
    name: str
    role: str = "distractor"  # inserted | distractor | trivial
    license_header: str = ""  # the header comment prepended to the unit, if any
    body: str = ""  # text without the license header (what the truth check compares)
    prelude: str = ""  # import lines the body starts with, if any

    def record(self) -> dict[str, str]:
        """The line given to ``distillguard record --jsonl``."""
        return {
            "text": self.text,
            "vendor": self.vendor,
            "model": self.model,
            "source_id": self.source_id,
        }


@dataclass
class Document:
    """One corpus file and its ground truth."""

    doc_id: str
    relpath: str
    kind: str
    label: bool
    category: str  # edit type for positives, negative type for negatives
    host: str
    output_idx: int | None = None
    region: tuple[int, int] | None = None  # [start, end) of the inserted text
    inserted_units: list[str] = field(default_factory=list)
    note: str = ""
    size: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["region"] = list(self.region) if self.region else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        region = data.get("region")
        data = {**data, "region": tuple(region) if region else None}
        return cls(**data)
