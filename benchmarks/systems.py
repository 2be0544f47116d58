"""What every system run hands to scoring, and the loaded corpus every system reads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.model import Document, LedgerOutput

OUTPUT_SUFFIX = {"py": ".py", "js": ".js", "prose": ".txt"}


@dataclass
class Corpus:
    """A built corpus on disk: documents with ground truth, and the ledger outputs."""

    root: Path
    docs: list[Document]
    outputs: list[LedgerOutput]
    manifest: dict[str, Any]

    @property
    def docs_dir(self) -> Path:
        return self.root / "corpus"

    @property
    def outputs_jsonl(self) -> Path:
        return self.root / "outputs.jsonl"

    def doc_path(self, doc: Document) -> Path:
        return self.docs_dir / doc.relpath

    def read(self, doc: Document) -> str:
        return self.doc_path(doc).read_text(encoding="utf-8")

    def output_files(self) -> list[Path]:
        """Each output as a file of its own (for tools that compare files), written once."""
        folder = self.root / "outputs"
        paths = [folder / f"o{o.idx:05d}{OUTPUT_SUFFIX[o.kind]}" for o in self.outputs]
        if not (folder / ".complete").exists():
            folder.mkdir(exist_ok=True)
            for out, path in zip(self.outputs, paths, strict=True):
                path.write_text(out.text, encoding="utf-8")
            (folder / ".complete").write_text("")
        return paths


def load_corpus(root: Path) -> Corpus:
    docs = [Document.from_json(json.loads(line)) for line in (root / "truth.jsonl").open()]
    outputs = [LedgerOutput(**json.loads(line)) for line in (root / "outputs_meta.jsonl").open()]
    manifest = json.loads((root / "manifest.json").read_text())
    return Corpus(root=root, docs=docs, outputs=outputs, manifest=manifest)


@dataclass
class RunResult:
    """What one system flagged, on which documents, and how long it took."""

    name: str
    flagged: set[str] = field(default_factory=set)  # doc relpaths
    evaluated: set[str] | None = None  # None: every document
    index_seconds: float = 0.0
    scan_seconds: float = 0.0
    scan_bytes: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""  # why the system did not run
    matches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per doc
    extra: dict[str, Any] = field(default_factory=dict)
