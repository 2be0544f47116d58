"""Git plumbing: the few git commands attribution and checks need, behind one small class.

Everything runs the real ``git`` binary in the repository's top-level directory; a failing
command becomes a :class:`~distillguard.errors.GitError` naming the command and git's message.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from distillguard.capture.git.diff import AddedLines, parse_added
from distillguard.errors import GitError

STAGED = ":staged"  # the revision name this package uses for the index (pre-commit)
_DIFF = ("-c", "core.quotePath=false", "diff", "--no-color", "--no-ext-diff", "-U0", "-M")


@dataclass(frozen=True)
class CommitInfo:
    """Who made a commit, when, and its message."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str  # strict ISO 8601
    message: str


class Git:
    """One repository, addressed by its top-level directory."""

    def __init__(self, cwd: str | Path | None = None) -> None:
        start = Path(cwd) if cwd is not None else Path.cwd()
        top = _run(["git", "rev-parse", "--show-toplevel"], start).decode().strip()
        if not top:
            raise GitError(f"{start} is not inside a git working tree")
        self.root = Path(top)

    def run(self, *args: str, stdin: bytes | None = None) -> bytes:
        return _run(["git", *args], self.root, stdin)

    def text(self, *args: str) -> str:
        return self.run(*args).decode("utf-8", errors="replace")

    def resolve(self, rev: str) -> str:
        """The full commit id of ``rev``."""
        return self.text("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()

    def has_head(self) -> bool:
        try:
            self.resolve("HEAD")
        except GitError:
            return False
        return True

    def empty_tree(self) -> str:
        return self.text("hash-object", "-t", "tree", "/dev/null").strip()

    def commit(self, rev: str) -> CommitInfo:
        fmt = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%B"
        sha, parents, name, email, date, message = self.text(
            "show", "-s", f"--format={fmt}", rev, "--"
        ).split("\x00", 5)
        return CommitInfo(sha, tuple(parents.split()), name, email, date, message.rstrip("\n"))

    def added_lines(self, sha: str) -> dict[str, AddedLines]:
        """Lines ``sha`` added, per new path, against its first parent (or nothing)."""
        parents = self.commit(sha).parents
        base = parents[0] if parents else self.empty_tree()
        return parse_added(self.run(*_DIFF, base, sha, "--"))

    def staged_lines(self) -> dict[str, AddedLines]:
        """Lines the index adds to HEAD (what the next commit would add)."""
        base = "HEAD" if self.has_head() else self.empty_tree()
        return parse_added(self.run(*_DIFF, "--cached", base, "--"))

    def blobs(self, rev: str, paths: list[str]) -> dict[str, bytes]:
        """The content of ``paths`` at ``rev`` (``STAGED``: the index); missing ones left out."""
        if not paths:
            return {}
        prefix = ":" if rev == STAGED else f"{rev}:"
        names = [f"{prefix}{p}" for p in paths]
        out = self.run("cat-file", "--batch", stdin="".join(n + "\n" for n in names).encode())
        return _parse_batch(out, paths)

    def rev_list(self, spec: str) -> list[str]:
        """Commits of ``spec`` (e.g. ``BASE..HEAD``), oldest first, merges left out."""
        out = self.text("rev-list", "--reverse", "--no-merges", spec, "--")
        return out.split()

    def show(self, rev: str, path: str) -> bytes | None:
        """A file at a revision, or None when it does not exist there."""
        found = self.blobs(rev, [path])
        return found.get(path)

    def git_path(self, name: str) -> Path:
        """A path inside the git directory (``hooks`` honours ``core.hooksPath``)."""
        path = Path(self.text("rev-parse", "--git-path", name).strip())
        return path if path.is_absolute() else self.root / path

    def ident(self) -> tuple[str, str]:
        """The author the next commit would get: (name, email)."""
        raw = self.text("var", "GIT_AUTHOR_IDENT").strip()
        name, _, rest = raw.partition(" <")
        return name, rest.split(">", 1)[0]


def _run(cmd: list[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, check=False)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}") from exc
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", errors="replace").strip() or f"exit {proc.returncode}"
        raise GitError(f"`{' '.join(cmd[:4])}` failed: {message}")
    return proc.stdout


def _parse_batch(out: bytes, paths: list[str]) -> dict[str, bytes]:
    """Parse ``git cat-file --batch`` output: ``<sha> <type> <size>\\n<content>\\n`` per object."""
    found: dict[str, bytes] = {}
    pos = 0
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[-1] == b"missing":
            continue
        size = int(header[2])
        if header[1] == b"blob":
            found[path] = out[pos : pos + size]
        pos += size + 1
    return found
