"""The durable local spool: every output is fsync'd here before its last event is forwarded.

Records are appended to segment files (``<time_ns>-<pid>.spool``), one line each:
``<crc32 hex> <JSON>\\n``. A writer thread takes every record waiting, writes them together and
calls ``fsync`` once (group commit), so concurrent streams share one fsync instead of queueing
for one each. :meth:`Spool.rotate` closes the current segment and returns the closed ones for
the drain to move into the ledger; a segment is deleted only after its records are committed.
A crash can leave a torn last line: it fails its checksum and is skipped (it was never
acknowledged, so its client never got the last event); every acknowledged record is intact.
A write that fails (disk full) fails only the callers of its group: the segment is cut back to
what was acknowledged and the next write tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import logging
import os
import queue
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from distillguard.errors import ConfigError, InputError
from distillguard.model import NewOutput

SUFFIX = ".spool"
BAD_SUFFIX = ".bad"
FIELDS = tuple(f.name for f in dataclasses.fields(NewOutput))
LOCK = ".lock"
log = logging.getLogger("distillguard.gateway")
Done = Callable[[BaseException | None], None]


#: The record's flags: written only when true, so a record without them reads as before.
FLAGS = ("usage_estimated", "unparsed")


def encode(new: NewOutput) -> bytes:
    """One spool line for ``new``: its fields that are set (not None; a flag: true)."""
    fields = {
        name: value
        for name in FIELDS
        if (value := getattr(new, name)) is not None and value is not False
    }
    if "fingerprints" in fields:
        fields["fingerprints"] = bytes(fields["fingerprints"]).hex()
    body = orjson.dumps(fields)
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode(line: bytes) -> NewOutput | None:
    """The record of a spool line, or None when it is torn, corrupt or not a record (a
    CRC-valid line with unknown fields or values of the wrong type: from another version)."""
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        return _record(orjson.loads(body))
    except (TypeError, ValueError):  # orjson.JSONDecodeError is a ValueError
        return None


def _record(fields: Any) -> NewOutput:
    """The NewOutput of a decoded line; TypeError or ValueError when it is not one."""
    if not isinstance(fields, dict) or not set(fields) <= set(FIELDS):
        raise TypeError("not a spooled record")
    if any(not isinstance(fields.get(name, False), bool) for name in FLAGS):
        raise TypeError("a flag of the record is not true or false")
    if "created_at" in fields:
        fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    if "fingerprints" in fields:
        fields["fingerprints"] = bytes.fromhex(fields["fingerprints"])
    return NewOutput(**fields)


@dataclass(frozen=True)
class Segment:
    """A closed segment's records; ``bad`` counts torn or corrupt lines (skipped)."""

    path: Path
    records: list[NewOutput]
    bad: int


def read_segment(path: Path) -> Segment:
    records, bad = [], 0
    try:
        with path.open("rb") as fh:
            for line in fh:
                new = decode(line)
                if new is None:
                    bad += 1
                else:
                    records.append(new)
    except OSError as exc:
        raise InputError(f"cannot read the spool segment {path}: {exc}") from exc
    return Segment(path, records, bad)


@dataclass
class _Open:
    """The segment being written: its path, descriptor and acknowledged (fsync'd) size."""

    path: Path
    fd: int
    size: int = 0


class Spool:
    """Append-only, group-committed spool in ``directory``; thread-safe.

    A write that fails (a full disk, an I/O error) fails the callers of that group with
    InputError and cuts the segment back to what was acknowledged before it (when even that
    fails, the segment is closed and the next write starts a new one): the writer thread lives
    on, and appends work again as soon as the disk does. ``error`` says why the last write
    failed (None once one succeeds); ``depth`` counts the records acknowledged (or found at
    start) and not yet handed over, segment by segment, so it never drifts.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lockfile = _locked(directory / LOCK)
        except OSError as exc:
            raise ConfigError(
                f"cannot take the spool {directory}: {exc} "
                "(one gateway per DISTILLGUARD_HOME: is another one running?)"
            ) from exc
        self._counts = {path: _lines(path) for path in directory.glob(f"*{SUFFIX}")}
        self.depth = sum(self._counts.values())
        self.commits = 0  #: fsyncs so far (one per group of records)
        self.failures = 0  #: groups that could not be written
        self.error: str | None = None
        self._queue: queue.SimpleQueue[tuple[bytes, Done] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._segment: _Open | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="dg-spool", daemon=True)
        self._thread.start()

    # --- writing --------------------------------------------------------------------------

    def submit(self, line: bytes, done: Done) -> None:
        """Queue ``line``; ``done(None)`` runs (on the writer thread) once it is fsync'd,
        ``done(error)`` when it cannot be written."""
        if self._closed or not self._thread.is_alive():
            done(InputError(f"the spool in {self.directory} is closed"))
            return
        self._queue.put((line, done))

    async def append(self, new: NewOutput) -> None:
        """Spool ``new`` and return once it is on durable storage."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, error)

        self.submit(encode(new), done)
        await future

    def append_sync(self, new: NewOutput) -> None:
        """Spool ``new`` from a thread; returns once it is durable."""
        event, errors = threading.Event(), []

        def done(error: BaseException | None) -> None:
            errors.append(error)
            event.set()

        self.submit(encode(new), done)
        event.wait()
        if errors[0] is not None:
            raise errors[0]

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            items = [item for item in batch if item is not None]
            if items:
                self._commit(items)
            if len(items) < len(batch):  # None: close
                return

    def _commit(self, items: list[tuple[bytes, Done]]) -> None:
        error: BaseException | None = None
        with self._lock:
            try:
                path = self._write(b"".join(line for line, _ in items))
            except Exception as exc:  # the writer must outlive any failure: its callers get it
                self.failures += 1
                self.error = f"cannot write the spool in {self.directory}: {exc}"
                log.error("%s", self.error)
                error = InputError(self.error)
            else:
                self._counts[path] = self._counts.get(path, 0) + len(items)
                self.depth += len(items)
                self.commits += 1
                self.error = None
        for _, done in items:
            try:
                done(error)
            except Exception as exc:  # a caller gone (its event loop closed) stops no other
                log.warning("spool: cannot tell a caller its record is written: %r", exc)

    def _write(self, data: bytes) -> Path:
        """Append and fsync ``data`` to the current segment; on failure, cut it back."""
        segment = self._current()
        try:
            _write_all(segment.fd, data)
            os.fsync(segment.fd)
        except BaseException:
            self._cut_back(segment)
            raise
        segment.size += len(data)
        return segment.path

    def _cut_back(self, segment: _Open) -> None:
        """Drop a failed write's bytes; a segment that cannot be cut back is closed."""
        try:
            os.ftruncate(segment.fd, segment.size)
        except OSError as exc:
            log.error("spool: cannot cut %s back, starting a new segment: %s", segment.path, exc)
            self._close_segment()

    def _current(self) -> _Open:
        if self._segment is None:
            path = self.directory / f"{time.time_ns():020d}-{os.getpid()}{SUFFIX}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            self._segment = _Open(path, fd, os.fstat(fd).st_size)
            _fsync_dir(self.directory)
        return self._segment

    def _close_segment(self) -> None:
        if self._segment is not None:
            fd, self._segment = self._segment.fd, None
            with contextlib.suppress(OSError):  # unbuffered: nothing is lost by a failed close
                os.close(fd)

    # --- handing over ---------------------------------------------------------------------

    def rotate(self) -> list[Path]:
        """Close the current segment; every closed segment, oldest first."""
        with self._lock:
            self._close_segment()
            return sorted(self.directory.glob(f"*{SUFFIX}"))

    def remove(self, segment: Segment) -> None:
        """Delete a segment whose records are in the ledger; one with torn or corrupt lines
        is kept aside as ``*.bad`` for a person to look at (nothing is deleted unread)."""
        if segment.bad:
            segment.path.rename(segment.path.with_suffix(BAD_SUFFIX))
        else:
            segment.path.unlink(missing_ok=True)
        with self._lock:
            self.depth -= self._counts.pop(segment.path, 0)
        _fsync_dir(self.directory)

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        with self._lock:
            self._close_segment()
        self._lockfile.close()


def _locked(path: Path) -> IO[bytes]:
    """``path`` opened and locked (exclusive, not waiting)."""
    fh = path.open("ab")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise
    return fh


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _lines(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return sum(1 for _ in fh)
    except OSError:
        return 0


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
