"""The spool and the drain when things go wrong: a full disk, a record the ledger cannot store,
a checksum-valid line that is not a record. Capture never stops, and nothing is lost silently."""

from __future__ import annotations

import errno
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from distillguard.capture.gateway import spool as spool_module
from distillguard.capture.gateway.drain import REJECTED
from distillguard.capture.gateway.services import LedgerHandle
from distillguard.capture.gateway.spool import BAD_SUFFIX, Spool, decode, read_segment
from distillguard.errors import InputError
from distillguard.ledger import Ledger
from tests.capture.gateway.raw import fill
from tests.capture.gateway.test_spool import _drain, _output


def _line(value: object) -> bytes:
    """A spool line with a valid checksum around any JSON value."""
    body = orjson.dumps(value)
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def _append_or_hang(spool: Spool, i: int, **fields: object) -> BaseException | None:
    """Append from a thread: the error it raised, None when it worked; fails on a hang."""
    errors: list[BaseException | None] = []

    def append() -> None:
        try:
            spool.append_sync(_output(i, **fields))
            errors.append(None)
        except BaseException as exc:  # reported to the test, whatever it is
            errors.append(exc)

    thread = threading.Thread(target=append, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the append hangs: the spool writer is gone"
    return errors[0]


# --- lines that are not records ----------------------------------------------------------------


NOT_RECORDS = [
    {"vendor": "v", "model": "m", "text": "t", "colour": "red"},  # a field of another version
    {"vendor": "v", "model": "m", "text": "t", "created_at": 5},
    {"vendor": "v", "model": "m", "text": "t", "created_at": "yesterday"},
    {"vendor": "v", "model": "m", "text": "t", "fingerprints": "not hex"},
    [1, 2],
    "a string",
]


@pytest.mark.parametrize("value", NOT_RECORDS)
def test_a_checksum_valid_line_that_is_not_a_record_decodes_to_none(value: object) -> None:
    assert decode(_line(value)) is None


def test_lines_that_are_not_records_are_kept_aside_and_the_rest_recorded(
    tmp_path: Path, handles: list[LedgerHandle]
) -> None:
    spool = Spool(tmp_path / "spool")
    try:
        spool.append_sync(_output(1))
        (path,) = spool.rotate()
        with path.open("ab") as fh:
            fh.write(b"".join(_line(value) for value in NOT_RECORDS))
        segment = read_segment(path)
        assert len(segment.records) == 1 and segment.bad == len(NOT_RECORDS)
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        drain = _drain(spool, url, handles)
        assert drain.drain_once() and drain.stats.skipped_lines == len(NOT_RECORDS)
        assert path.with_suffix(BAD_SUFFIX).is_file() and spool.depth == 0
    finally:
        spool.close()
    with Ledger(url) as ledger:
        assert [o.message_id for o in ledger.iter_outputs()] == ["msg_000001"]


# --- records the ledger cannot store ------------------------------------------------------------


def test_a_record_the_ledger_cannot_store_is_set_aside_and_capture_goes_on(
    tmp_path: Path, ledger_url: str, handles: list[LedgerHandle]
) -> None:
    """2^63 does not fit a 64-bit column: SQLite's driver raises OverflowError (the drain
    thread died of it), PostgreSQL refuses the row (the drain retried it forever)."""
    spool = Spool(tmp_path / "spool")
    drain = _drain(spool, ledger_url, handles, interval=0.05)
    drain.start()
    try:
        spool.append_sync(_output(1))
        spool.append_sync(_output(2, input_tokens=2**63))  # as a spool of an older gateway holds
        spool.append_sync(_output(3, reasoning_tokens=2**64 - 1))
        spool.append_sync(_output(4))
        assert _wait(lambda: spool.depth == 0), f"the drain is stuck: {drain.stats}"
        for i in (5, 6):  # later capture goes on
            spool.append_sync(_output(i))
        assert _wait(lambda: spool.depth == 0), f"the drain stopped: {drain.stats}"
    finally:
        drain.stop()
        spool.close()
    assert drain.stats.rejected == 2 and drain.stats.last_error is None
    with Ledger(ledger_url) as ledger:
        stored = [o.message_id for o in ledger.iter_outputs()]
    assert stored == ["msg_000001", "msg_000004", "msg_000005", "msg_000006"]
    kept = (tmp_path / "spool" / REJECTED).read_bytes().splitlines(keepends=True)
    assert [decode(line) for line in kept] == [
        _output(2, input_tokens=2**63),
        _output(3, reasoning_tokens=2**64 - 1),
    ]
    restarted = Spool(tmp_path / "spool")
    try:  # what was set aside stays counted after a restart
        assert _drain(restarted, ledger_url, handles).stats.rejected == 2
    finally:
        restarted.close()


# --- a full disk ----------------------------------------------------------------------------


def test_a_failed_write_fails_its_callers_and_the_next_write_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC injected at the file-write boundary, after half the bytes went out."""
    spool = Spool(tmp_path / "spool")
    real = spool_module._write_all

    def disk_full(fd: int, data: bytes) -> None:
        real(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    try:
        spool.append_sync(_output(0))
        monkeypatch.setattr(spool_module, "_write_all", disk_full)
        with pytest.raises(InputError, match="No space left on device"):
            spool.append_sync(_output(1))
        assert spool.error is not None and "No space left" in spool.error
        spool.rotate()  # the drain rotates meanwhile
        assert isinstance(_append_or_hang(spool, 2), InputError)
        monkeypatch.setattr(spool_module, "_write_all", real)  # space is back
        assert _append_or_hang(spool, 3) is None
        assert spool.error is None and spool.depth == 2 and spool.failures == 2
        segments = [read_segment(path) for path in spool.rotate()]
    finally:
        spool.close()
    assert [o.message_id for s in segments for o in s.records] == ["msg_000000", "msg_000003"]
    assert sum(s.bad for s in segments) == 0  # the failed bytes were cut back


def test_a_full_disk_for_real_then_space_back(
    small_disk: Path, tmp_path: Path, handles: list[LedgerHandle]
) -> None:
    spool = Spool(small_disk / "spool")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    drain = _drain(spool, url, handles, interval=0.05)
    drain.start()
    try:
        assert _append_or_hang(spool, 0) is None
        filler = fill(small_disk)
        big = {"text": "x" * 5000}  # fits the write buffer of a buffered file
        for i in (1, 2, 3):  # the drain rotates the segment in between
            assert isinstance(_append_or_hang(spool, i, **big), InputError)
            time.sleep(0.1)
        while_full = getattr(spool, "error", None)
        filler.unlink()
        assert _append_or_hang(spool, 4, **big) is None
        assert while_full is not None and "No space left" in while_full
        assert spool.error is None
        assert _wait(lambda: spool.depth == 0), f"the drain is stuck: {drain.stats}"
        assert _append_or_hang(spool, 5) is None and _wait(lambda: spool.depth == 0)
    finally:
        drain.stop()
        spool.close()
    assert spool.depth == 0 and drain.stats.skipped_lines == 0
    with Ledger(url) as ledger:
        assert [o.message_id for o in ledger.iter_outputs()] == [
            "msg_000000",
            "msg_000004",
            "msg_000005",
        ]


@pytest.fixture
def handles() -> Iterator[list[LedgerHandle]]:
    made: list[LedgerHandle] = []
    yield made
    for handle in made:
        handle.close()
