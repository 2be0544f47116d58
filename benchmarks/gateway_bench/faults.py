"""The fault run: clients stream through ``distillguard serve`` (PostgreSQL ledger) while the
gateway is killed with SIGKILL at random moments and restarted on the same DISTILLGUARD_HOME
(its spool is replayed), and the database is stopped mid-run and brought back.

The database is a private PostgreSQL cluster (``initdb`` / ``pg_ctl`` from
/usr/lib/postgresql/*/bin, run as the ``postgres`` OS user through ``runuser``, in a temp dir on
a free port), so stopping it disturbs nobody else. Where that cannot run (no server binaries,
e.g. PostgreSQL in a service container), :class:`CutProxy` stands in front of a database on the
shared server and "stops" it by closing its port and resetting every open connection.
Afterwards every response a client received complete (its final event) must be in the ledger
exactly once, matched by the message id the client saw, and ``distillguard ledger verify``
must pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from .client import Sample, Target, closed_loop
from .procs import DISTILLGUARD, DgHome, Proc, free_port, start_upstream

Log = Callable[[str], None]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def private_pg_unavailable() -> str | None:
    """Why a private cluster cannot run here (None when it can)."""
    if _pg_bin() is None:
        return "no initdb under /usr/lib/postgresql/*/bin"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser (initdb refuses root)"
    if os.geteuid() == 0:
        try:
            subprocess.run(["id", "postgres"], check=True, capture_output=True)
        except (subprocess.CalledProcessError, OSError):
            return "no postgres OS user to run initdb as"
    return None


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster in ``directory`` on ``port`` (trust auth)."""

    kind = "private PostgreSQL cluster (initdb/pg_ctl as the postgres user, own port)"

    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def _run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(
            [*prefix, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            cwd="/",
        )

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "sock").mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
            shutil.chown(self.directory / "sock", "postgres")
        bin_ = _pg_bin()
        assert bin_ is not None
        self._bin = bin_
        self._run(
            str(bin_ / "initdb"),
            "-D",
            str(self.data),
            "--auth=trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-k {self.directory / 'sock'} -c max_connections=50"
        )
        self._run(
            str(self._bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.directory / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        engine.dispose()
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(
            subprocess.CalledProcessError, subprocess.TimeoutExpired, AttributeError
        ):
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


class CutProxy:
    """A TCP proxy to the database at ``target_url`` that can be cut (port closed, every
    connection reset) and restored, on a thread of its own."""

    kind = "TCP proxy in front of the shared PostgreSQL server, cut and restored"

    def __init__(self, target_url: str) -> None:
        url = sa.make_url(target_url)
        self._upstream = (url.host or "127.0.0.1", url.port or 5432)
        self.port = free_port()
        self.url = url.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def start(self) -> None:
        self._call(self._listen())

    def stop(self, mode: str = "fast") -> None:
        self._call(self._cut())

    def destroy(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _shutdown(self) -> None:
        await self._cut()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._open -= {writer, up_writer}


# --- checking the ledger ------------------------------------------------------------------


def ledger_ids(db_url: str) -> Counter[str]:
    """How many ledger rows hold each message id."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT message_id, count(*) FROM outputs WHERE message_id IS NOT NULL "
                    "GROUP BY message_id"
                )
            ).all()
    finally:
        engine.dispose()
    return Counter({str(mid): int(n) for mid, n in rows})


def verify(env: dict[str, str]) -> bool:
    done = subprocess.run(
        [DISTILLGUARD, "ledger", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode == 0


def tally(seen: Iterable[str], recorded: Counter[str]) -> dict[str, Any]:
    """Completed responses (ids the clients saw) against the ledger."""
    completed = Counter(seen)
    return {
        "completed": sum(completed.values()),
        "completed_unique_ids": len(completed),
        "client_duplicate_ids": sum(1 for n in completed.values() if n > 1),
        "recorded_rows": sum(recorded.values()),
        "recorded_once": sum(1 for mid in completed if recorded.get(mid) == 1),
        "duplicates": sum(1 for mid in completed if recorded.get(mid, 0) > 1),
        "lost": sum(1 for mid in completed if mid not in recorded),
        "lost_ids": sorted(mid for mid in completed if mid not in recorded)[:20],
        "recorded_not_completed": sum(1 for mid in recorded if mid not in completed),
    }


# --- the run ------------------------------------------------------------------------------


@dataclass
class Load:
    """Clients streaming in a thread of their own while the main thread breaks things."""

    target: Target
    clients: int
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        def run() -> None:
            asyncio.run(
                closed_loop(
                    self.target,
                    self.clients,
                    lambda: not self._stop.is_set(),
                    self.samples.append,
                    pause_after_error=0.2,
                    timeout=20.0,
                )
            )

        self._thread = threading.Thread(target=run, name="fault-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)


def plan(seconds: float, rng: random.Random) -> list[tuple[float, str]]:
    """When to kill -9 the gateway (about every 4-9 s) and when to stop / start the database
    (down for about a quarter of the run, from a quarter to 40% of the way in)."""
    events: list[tuple[float, str]] = []
    t = rng.uniform(2.0, 5.0)
    while t < seconds - 3:
        events.append((t, "kill"))
        t += rng.uniform(4.0, 9.0)
    down = seconds * rng.uniform(0.25, 0.4)
    # the first 3 s of the outage are left alone: some answers must be served from the spool
    # by a gateway that knew its keys before the database went away
    events = [(t, e) for t, e in events if not down - 1.0 <= t <= down + 3.0]
    events += [(down, "db_stop"), (down + max(4.0, seconds * 0.25), "db_start")]
    return sorted(events)


def wait_drained(gateway: Proc, timeout: float) -> int | None:
    """Poll /healthz until the spool is empty; the depth left (None: no answer)."""
    deadline = time.perf_counter() + timeout
    depth: int | None = None
    while time.perf_counter() < deadline:
        try:
            health = httpx.get(f"http://127.0.0.1:{gateway.port}/healthz", timeout=5).json()
            depth = health.get("spooled")
            if depth == 0:
                return 0
        except httpx.HTTPError:
            depth = None
        time.sleep(0.25)
    return depth


def private_database() -> tuple[PrivatePostgres, str]:
    """A started private cluster and the URL of a new database in it. It lives under /tmp
    (the postgres user must reach it; $TMPDIR may be private to this user)."""
    pg = PrivatePostgres(Path(tempfile.mkdtemp(prefix="dg-fault-pg-", dir="/tmp")))
    pg.directory.chmod(0o755)
    try:
        pg.init()
        pg.start()
        return pg, pg.create_database("dg_fault")
    except BaseException:
        pg.destroy()
        raise


def proxied_database(target_url: str) -> tuple[CutProxy, str]:
    """A cuttable proxy in front of ``target_url`` (an empty database on a shared server)."""
    proxy = CutProxy(target_url)
    proxy.start()
    return proxy, proxy.url


def run_fault(
    work: Path,
    *,
    seconds: float = 60.0,
    clients: int = 40,
    delay: float = 0.01,
    seed: int | None = None,
    log: Log = lambda _m: None,
    database: tuple[PrivatePostgres | CutProxy, str] | None = None,
) -> dict[str, Any]:
    """Run the fault scenario; returns the counts and what happened when. ``database`` is a
    started database and its URL (:func:`private_database` or :func:`proxied_database`;
    default: a private cluster); it is destroyed at the end."""
    seed = seed if seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    pg, db_url = database if database is not None else private_database()
    upstream: Proc | None = None
    gateway: Proc | None = None
    events: list[dict[str, Any]] = []
    started = time.perf_counter()
    down: list[list[float]] = []  # [stopped, started] times of the database outages

    def note(what: str, **extra: Any) -> None:
        events.append({"t": round(time.perf_counter() - started, 2), "event": what, **extra})
        log(f"fault t={events[-1]['t']:6.2f}s {what} {extra or ''}")

    try:
        upstream = start_upstream(work, delay)
        home = DgHome(work / "dg-home", db_url, {"anthropic": f"http://127.0.0.1:{upstream.port}"})
        key = home.create_key()
        port = free_port()
        gateway = home.serve(port)
        target = Target("127.0.0.1", port, "anthropic", "/anthropic", (("x-api-key", key),))
        load = Load(target, clients)
        load.start()
        started = time.perf_counter()  # the plan's clock starts with the load
        note("load started", clients=clients)
        db_up, kills, restarts_db_down = True, 0, 0
        for at, what in plan(seconds, rng):
            time.sleep(max(0.0, at - (time.perf_counter() - started)))
            if what == "kill":
                gateway.kill9()
                kills += 1
                note("gateway kill -9", done=len(load.samples))
                time.sleep(rng.uniform(0.0, 1.0))
                gateway = home.serve(port)
                restarts_db_down += not db_up
                note("gateway restarted", db_up=db_up)
            elif what == "db_stop":
                pg.stop(rng.choice(["fast", "immediate"]))
                down.append([time.perf_counter(), float("inf")])
                db_up = False
                note("database stopped")
            else:
                pg.start()
                down[-1][1] = time.perf_counter()
                db_up = True
                note("database started")
        time.sleep(max(0.0, seconds - (time.perf_counter() - started)))
        load.stop()
        note("load stopped", responses=len(load.samples))
        left = wait_drained(gateway, 120.0)
        note("spool drained", left=left)
        gateway.stop()
        gateway = None
        seen = [s.message_id for s in load.samples if s.complete and s.message_id]
        counts = tally(seen, ledger_ids(db_url))
        counts["sent"] = len(load.samples)
        counts["failed_or_cut"] = sum(1 for s in load.samples if not s.complete)
        counts["errors"] = dict(Counter(s.error for s in load.samples if not s.complete))
        counts["completed_while_db_down"] = sum(
            1
            for s in load.samples
            if s.complete and any(a <= s.start + s.total <= b for a, b in down)
        )
        counts["kills"] = kills
        counts["restarts_while_db_down"] = restarts_db_down
        counts["ledger_verify_ok"] = verify(home.env)
        note(
            "checked",
            **{k: counts[k] for k in ("completed", "recorded_once", "lost", "duplicates")},
        )
        return {
            "seed": seed,
            "seconds": seconds,
            "clients": clients,
            "delay": delay,
            "database": pg.kind,
            "counts": counts,
            "events": events,
        }
    finally:
        if gateway is not None:
            gateway.stop()
        if upstream is not None:
            upstream.stop()
        pg.destroy()
