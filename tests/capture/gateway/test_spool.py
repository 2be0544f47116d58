"""The spool (group commit, torn records, kill -9) and the drain (replay, database down)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from distillguard.capture.gateway.access import Spend
from distillguard.capture.gateway.drain import REJECTED, Drain
from distillguard.capture.gateway.metrics import Metrics
from distillguard.capture.gateway.services import LedgerHandle, _sink
from distillguard.capture.gateway.spool import SUFFIX, Spool, decode, encode, read_segment
from distillguard.errors import ConfigError
from distillguard.ledger import Ledger
from distillguard.model import NewOutput


def _output(i: int, **fields: object) -> NewOutput:
    values: dict[str, object] = {
        "vendor": "anthropic", "model": "claude-sonnet-4-6", "text": f"answer {i}\n" * 3,
        "message_id": f"msg_{i:06d}", "actor": "ada", "team": "ml", "tool": "claude-code",
        "session": "s1", "request": f"question {i}", "input_tokens": i, "output_tokens": 2 * i,
        "cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": i / 1000,
        "price_version": "v1", "upstream": "anthropic", "key_id": "key_1",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }  # fmt: skip
    return NewOutput(**(values | fields))  # type: ignore[arg-type]


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    s = Spool(tmp_path / "spool")
    yield s
    s.close()


def _spooled(spool: Spool) -> list[NewOutput]:
    return [new for path in spool.rotate() for new in read_segment(path).records]


def test_encode_decode_round_trip() -> None:
    new = _output(7, fingerprints=b"\x00\x01", text="ünïcode\x00")
    assert decode(encode(new)) == new
    line = encode(new)
    assert decode(line[:-1]) is None  # torn: no newline
    assert decode(line.replace(b"ada", b"eve")) is None  # checksum
    assert decode(b"garbage\n") is None


def test_concurrent_appends_share_fsyncs(spool: Spool) -> None:
    n = 200
    barrier = threading.Barrier(n)

    def one(i: int) -> None:
        barrier.wait()
        spool.append_sync(_output(i))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert spool.depth == n
    assert spool.commits < n / 2, f"{spool.commits} fsyncs for {n} records: no group commit"
    assert sorted(o.message_id or "" for o in _spooled(spool)) == [f"msg_{i:06d}" for i in range(n)]


def test_torn_and_corrupt_lines_are_skipped(spool: Spool) -> None:
    for i in range(3):
        spool.append_sync(_output(i))
    (path,) = spool.rotate()
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[1].replace(b"answer", b"ANSWER") + lines[2] + lines[0][:40])
    segment = read_segment(path)
    assert [o.message_id for o in segment.records] == ["msg_000000", "msg_000002"]
    assert segment.bad == 2
    spool.remove(segment)  # its records are in the ledger: the bad lines are kept aside
    assert not path.exists() and path.with_suffix(".bad").is_file()
    assert spool.rotate() == []


def test_one_gateway_per_spool(spool: Spool) -> None:
    with pytest.raises(ConfigError, match="another one running"):
        Spool(spool.directory)


WRITER = """
import sys
from pathlib import Path
from tests.capture.gateway.test_spool import _output
from distillguard.capture.gateway.spool import Spool
spool = Spool(Path(sys.argv[1]))
for i in range(10**6):
    spool.append_sync(_output(i, text="x" * 5000))
    print(i, flush=True)
"""


def test_kill_9_mid_write_loses_no_acknowledged_record(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(directory)], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).parents[3],
    )  # fmt: skip
    assert writer.stdout is not None
    acked = [int(writer.stdout.readline()) for _ in range(300)]
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    acked += [int(line) for line in writer.stdout.read().split()]  # printed before the kill
    writer.stdout.close()
    spool = Spool(directory)  # the lock died with the writer
    try:
        found = {int((o.message_id or "")[4:]) for o in _spooled(spool)}
    finally:
        spool.close()
    assert set(acked) <= found
    assert found <= set(range(max(found) + 1))


@pytest.fixture
def handles() -> Iterator[list[LedgerHandle]]:
    made: list[LedgerHandle] = []
    yield made
    for handle in made:
        handle.close()


def _drain(spool: Spool, url: str, handles: list[LedgerHandle], interval: float = 0.5) -> Drain:
    handle = LedgerHandle(url)
    handles.append(handle)
    sink = _sink(handle, Spend({}), Metrics(), private=False)
    probe = lambda: handle.get().max_seq()  # noqa: E731 (as services.start builds it)
    return Drain(spool, sink, probe=probe, interval=interval, max_backoff=0.2)


def test_replay_after_restart_is_idempotent(tmp_path: Path, handles: list[LedgerHandle]) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    first = Spool(tmp_path / "spool")
    for i in range(5):
        first.append_sync(_output(i))
    first.close()  # the gateway stops before its drain ran
    with Ledger(url) as ledger:  # one of them got in already (a crash after the commit)
        ledger.record(_output(2))
    second = Spool(tmp_path / "spool")
    assert second.depth == 5
    drain = _drain(second, url, handles)
    assert drain.drain_once()
    assert second.depth == 0 and not list((tmp_path / "spool").glob(f"*{SUFFIX}"))
    second.close()
    with Ledger(url) as ledger:
        assert ledger.count() == 5 and ledger.verify().ok
        stored = {o.message_id: o for o in ledger.iter_outputs()}
    assert stored["msg_000004"].cost_usd == 0.004 and stored["msg_000004"].key_id == "key_1"


def test_a_record_the_ledger_refuses_is_set_aside(
    tmp_path: Path, spool: Spool, handles: list[LedgerHandle]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    for new in (_output(1), _output(2, vendor=" "), _output(3)):
        spool.append_sync(new)
    drain = _drain(spool, url, handles)
    assert drain.drain_once() and drain.stats.rejected == 1
    with Ledger(url) as ledger:
        assert {o.message_id for o in ledger.iter_outputs()} == {"msg_000001", "msg_000003"}
    (rejected,) = (spool.directory / REJECTED).read_bytes().splitlines(keepends=True)
    assert decode(rejected) == _output(2, vendor=" ")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def down_then_up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """A ledger URL that cannot be opened yet, and a function that brings it up."""
    if request.param == "sqlite":
        blocker = tmp_path / "db"
        blocker.write_text("a file where the ledger's directory should be")

        def up_sqlite() -> None:
            blocker.unlink()

        yield f"sqlite:///{blocker / 'ledger.db'}", up_sqlite
        return
    admin: Engine = request.getfixturevalue("pg_admin")
    name = f"dg_test_down_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
    url = admin.url.set(database=name).render_as_string(hide_password=False)

    def up_postgres() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))

    yield url, up_postgres
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_database_down_then_back_catches_up(
    spool: Spool, down_then_up: tuple[str, object], handles: list[LedgerHandle]
) -> None:
    url, bring_up = down_then_up
    drain = _drain(spool, url, handles, interval=0.05)
    drain.start()
    for i in range(10):
        spool.append_sync(_output(i))
    deadline = time.monotonic() + 10
    while drain.stats.errors < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert drain.stats.errors >= 2 and drain.stats.written == 0 and spool.depth == 10
    for i in range(10, 20):  # still spooling while the database is down
        spool.append_sync(_output(i))
    bring_up()  # type: ignore[operator]
    deadline = time.monotonic() + 20
    while spool.depth and time.monotonic() < deadline:
        time.sleep(0.05)
    drain.stop()
    assert spool.depth == 0 and drain.stats.written == 20
    assert drain.stats.rejected == 0 and drain.stats.last_error is None  # nothing set aside
    with Ledger(url) as ledger:
        assert ledger.count() == 20 and ledger.verify().ok
