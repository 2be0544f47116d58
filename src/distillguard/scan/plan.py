"""Plan a scan: turn the PATHs of the command line into units (see ``formats``).

- A directory is walked recursively in sorted order (entries of each directory sorted by name,
  depth first). Every regular file is a unit of the format its name says (``formats.kind_of``);
  a directory that is one dataset (a Hugging Face ``save_to_disk`` directory) is one unit and
  is not walked. The output directory is left out when it lies inside an input. Symlinked
  files are followed; symlinked directories are not (no loops): each is listed as skipped,
  like sockets, FIFOs and devices.
- Units are named for the outputs: with one PATH, outputs keep its own layout; with several,
  each goes under its basename.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from distillguard.errors import InputError
from distillguard.scan.formats import Skipped, Unit, dir_kind, kind_of, os_reason
from distillguard.scan.formats.codecs import codec_of


def plan(paths: Sequence[str], *, exclude: Path | None = None) -> tuple[list[Unit], list[Skipped]]:
    """The units to read for these PATHs, and what was found unreadable while walking.

    With one PATH, outputs keep its own layout; with several, each goes under its basename
    (``name-2``, ``name-3``... when basenames repeat). ``exclude`` (the output directory) is
    never walked. Raises ``InputError`` when a PATH does not exist or lies inside ``exclude``.
    """
    if not paths:
        raise InputError("no input PATH given")
    for path in paths:
        _check_path(path, exclude)
    excluded = _identity(exclude)
    names = _output_names(paths)
    units: list[Unit] = []
    skipped: list[Skipped] = []
    for path, name in zip(paths, names, strict=True):
        prefix = "" if len(paths) == 1 else name + "/"
        _plan_path(path, name, prefix, excluded, units, skipped)
    return units, skipped


def _check_path(path: str, exclude: Path | None) -> None:
    if not os.path.exists(path):
        broken = os.path.islink(path)
        raise InputError(f"{path}: {'broken symlink' if broken else 'no such file or directory'}")
    if exclude is not None and _is_within(Path(path), exclude):
        raise InputError(f"{path}: lies inside the output directory {exclude}")


def _is_within(path: Path, parent: Path) -> bool:
    return path.resolve().is_relative_to(parent.resolve())


def _identity(path: Path | None) -> tuple[int, int] | None:
    """(device, inode) of an existing directory, to recognise it however it is reached."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _plan_path(
    path: str,
    name: str,
    prefix: str,
    excluded: tuple[int, int] | None,
    units: list[Unit],
    skipped: list[Skipped],
) -> None:
    st = os.stat(path)
    kind = dir_kind(path) if stat.S_ISDIR(st.st_mode) else None
    if kind is not None:
        units.append(Unit(path, kind, prefix.rstrip("/") or name, _tree_size(path)))
    elif stat.S_ISDIR(st.st_mode):
        for rel, entry in _walk(path, "", excluded, skipped):
            _plan_entry(entry, prefix + rel, units, skipped)
    elif stat.S_ISREG(st.st_mode):
        units.append(Unit(path, kind_of(path), prefix.rstrip("/") or name, st.st_size))
    else:
        skipped.append(Skipped(path, f"not a regular file ({_file_type(st.st_mode)})"))


def _walk(
    top: str, rel: str, excluded: tuple[int, int] | None, skipped: list[Skipped]
) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative POSIX path, entry) of everything under ``top`` but its real subdirectories."""
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        skipped.append(Skipped(top, os_reason(exc)))
        return
    for entry in entries:
        if _is_real_dir(entry) and dir_kind(entry.path) is None:
            if not _is_excluded(entry, excluded):
                yield from _walk(entry.path, f"{rel}{entry.name}/", excluded, skipped)
        else:
            yield rel + entry.name, entry


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_excluded(entry: os.DirEntry[str], excluded: tuple[int, int] | None) -> bool:
    if excluded is None or entry.inode() != excluded[1]:
        return False
    try:
        return entry.stat(follow_symlinks=False).st_dev == excluded[0]
    except OSError:
        return False


def _plan_entry(
    entry: os.DirEntry[str], out_rel: str, units: list[Unit], skipped: list[Skipped]
) -> None:
    try:
        st = entry.stat(follow_symlinks=True)
    except OSError as exc:
        broken = entry.is_symlink()
        skipped.append(Skipped(entry.path, ("broken symlink: " if broken else "") + os_reason(exc)))
        return
    if stat.S_ISREG(st.st_mode):
        units.append(Unit(entry.path, kind_of(entry.name), out_rel, st.st_size))
    elif stat.S_ISDIR(st.st_mode) and entry.is_symlink():
        skipped.append(Skipped(entry.path, "symlink to a directory: not followed"))
    elif stat.S_ISDIR(st.st_mode):  # a dataset directory: the walk descends into the others
        kind = dir_kind(entry.path)
        if kind is None:
            skipped.append(Skipped(entry.path, "directory changed while the scan was planned"))
        else:
            units.append(Unit(entry.path, kind, out_rel, _tree_size(entry.path)))
    else:
        skipped.append(Skipped(entry.path, f"not a regular file ({_file_type(st.st_mode)})"))


def _file_type(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISDIR, "directory"),
    )
    return next((label for test, label in kinds if test(mode)), "special file")


def _tree_size(path: str) -> int:
    """Bytes of the regular files under a directory (what progress counts for it)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                continue  # gone or unreadable: its reader says so
    return total


def _output_names(paths: Sequence[str]) -> list[str]:
    """Each PATH's basename; a repeated one gets a numeric suffix (``-2``, ``-3``...)."""
    bases = [_basename(p) for p in paths]
    reserved = set(bases)
    taken: set[str] = set()
    names = []
    for path, base in zip(paths, bases, strict=True):
        name, n = base, 2
        while name in taken or (name != base and name in reserved):
            name, n = _suffixed(base, n, is_dir=os.path.isdir(path)), n + 1
        taken.add(name)
        names.append(name)
    return names


def _basename(path: str) -> str:
    name = os.path.basename(os.path.normpath(path))
    if name in ("", ".", ".."):
        name = Path(path).resolve().name or "root"
    return name


def _suffixed(name: str, n: int, *, is_dir: bool) -> str:
    """``name`` with ``-n`` before its extension (``.jsonl.gz`` counts as one)."""
    if is_dir:
        return f"{name}-{n}"
    codec = codec_of(name) or ""
    ext = os.path.splitext(name[: len(name) - len(codec)])[1] + codec
    stem = name[: len(name) - len(ext)]
    return f"{stem}-{n}{ext}"
