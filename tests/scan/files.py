"""What the scan tests share: write a file anywhere, read a tree back, and split units the
way the engine does with a stand-in matcher."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from distillguard.scan.formats import Document, Fields, Format, Skipped, Unit, format_of
from distillguard.scan.outdir import MARKER, prepare_out_dir
from distillguard.scan.plan import plan


def write(path: Path | str, data: bytes | str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def files_under(root: Path | str) -> dict[str, bytes]:
    """The files under ``root`` by relative POSIX path; a scan output's marker is left out."""
    root = Path(root)
    found = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
    return {rel: p.read_bytes() for rel, p in found.items() if rel != MARKER}


def by_text(doc: Document) -> bool:
    """The tests' matcher: a document is flagged when its text says "bad"."""
    return "bad" in doc.text


def split_unit(
    fmt: Format,
    unit: Unit,
    out: Path,
    decide: Callable[[Document], bool] = by_text,
    fields: Fields | None = None,
) -> tuple[list[Document], list[Skipped]]:
    """What the engine does with one unit, ``decide`` as the matcher."""
    for side in ("clean", "quarantine"):
        (out / side).mkdir(parents=True, exist_ok=True)
    sink = fmt.sink(unit, out)
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for item in fmt.read(unit, fields or Fields()):
        if isinstance(item, Skipped):
            skipped.append(item)
        else:
            sink.write(item, decide(item))
            documents.append(item)
    sink.close()
    return documents, skipped


def split_paths(
    paths: list[str], out: Path, fields: Fields | None = None
) -> tuple[list[Document], list[Skipped]]:
    """What the engine does with PATHs (sinks made on the first document, or for a record
    file that gave none), quarantining what :func:`by_text` flags."""
    prepare_out_dir(out)
    units, skipped = plan(paths, exclude=out)
    documents: list[Document] = []
    for unit in units:
        fmt = format_of(unit)
        sink = None
        for item in fmt.read(unit, fields or Fields()):
            if isinstance(item, Skipped):
                skipped.append(item)
                continue
            sink = sink or fmt.sink(unit, out)
            sink.write(item, by_text(item))
            documents.append(item)
        if sink is None and fmt.records:
            sink = fmt.sink(unit, out)
        if sink is not None:
            sink.close()
    return documents, skipped
