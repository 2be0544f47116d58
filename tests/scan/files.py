"""Small file helpers the scan tests share: write a file anywhere, read a tree back."""

from __future__ import annotations

from pathlib import Path


def write(path: Path | str, data: bytes | str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def files_under(root: Path | str) -> dict[str, bytes]:
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
