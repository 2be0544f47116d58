"""The processes a gateway benchmark runs: the fake upstream, ``distillguard serve``, LiteLLM.

Each is a real subprocess on a free port, started and waited for here and stopped by its pid
(never by name). CPU seconds of a process and its children come from ``/proc``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DISTILLGUARD = str(Path(sys.executable).parent / "distillguard")
VENDOR_KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-bench-vendor",
    "OPENAI_API_KEY": "sk-bench-vendor",
    "GEMINI_API_KEY": "AIza-bench-vendor",
}
#: ``[upstreams.NAME]``: the API, key variable and vendor of a name's first word.
SPEAKS = {
    "anthropic": ("anthropic", "ANTHROPIC_API_KEY", "anthropic"),
    "openai": ("openai", "OPENAI_API_KEY", "openai"),
    "gemini": ("gemini", "GEMINI_API_KEY", "google"),
}
CLOCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants (0 when gone)."""
    total = 0.0
    for one in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK
    return total


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def wait_until(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout} s\n{log.read_text(errors='replace')}")


@dataclass
class Proc:
    """A started server: its process, port and log file."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @classmethod
    def spawn(
        cls, name: str, command: list[str], port: int, log: Path, env: dict[str, str], cwd: Path
    ) -> Proc:
        with log.open("ab") as out:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, process, port, log)

    @property
    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP to its process group), so an idle proxy's background work
        does not take the 2 cores from the system being measured."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def kill9(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM its process group, SIGKILL after ``timeout``."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        os.killpg(self.process.pid, signal.SIGCONT)  # a paused server must wake to exit
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start_upstream(work: Path, delay: float) -> Proc:
    port = free_port()
    command = [PYTHON, "-m", "tests.fakes.vendors", "--port", str(port), "--delay", str(delay)]
    proc = Proc.spawn(
        f"upstream-{delay}", command, port, work / f"upstream-{port}.log", dict(os.environ), REPO
    )
    wait_until(f"http://127.0.0.1:{port}/v1/models", proc.process, 60, proc.log)
    return proc


def dg_config(upstreams: dict[str, str]) -> str:
    """``[upstreams.NAME]`` for ``NAME -> origin``; a name speaks the API its first word
    (before ``_``) names in :data:`SPEAKS` (``anthropic_fast``: Anthropic)."""
    text = ""
    for name, origin in upstreams.items():
        api, key, vendor = SPEAKS[name.split("_", 1)[0]]
        text += (
            f'[upstreams.{name}]\napi = "{api}"\nbase_url = "{origin}"\n'
            f'key_env = "{key}"\nvendor = "{vendor}"\n\n'
        )
    return text


@dataclass
class DgHome:
    """A DISTILLGUARD_HOME with a config and a key; ``serve()`` starts the gateway."""

    home: Path
    db_url: str | None
    upstreams: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    key: str = ""

    def __post_init__(self) -> None:
        self.home = self.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "distillguard.toml"
        config.write_text(dg_config(self.upstreams))
        env = {
            **os.environ,
            **VENDOR_KEYS,
            "DISTILLGUARD_HOME": str(self.home),
            "DISTILLGUARD_CONFIG": str(config),
        }
        env.pop("DISTILLGUARD_DB", None)
        if self.db_url:
            env["DISTILLGUARD_DB"] = self.db_url
        self.env = env

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [DISTILLGUARD, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"distillguard {' '.join(args)}: {done.returncode}\n{done.stderr}")
        return done.stdout

    def create_key(self) -> str:
        out = self.cli(
            "keys", "create", "--actor", "bench", "--team", "bench", "--approved-by", "bench-lead"
        )
        self.key = out.strip().splitlines()[-1].strip()
        return self.key

    def serve(self, port: int | None = None, timeout: float = 60.0) -> Proc:
        port = port or free_port()
        command = [DISTILLGUARD, "serve", "--port", str(port), "--log-level", "warning"]
        proc = Proc.spawn(
            "distillguard", command, port, self.home / "serve.log", self.env, self.home
        )
        wait_until(f"http://127.0.0.1:{port}/healthz", proc.process, timeout, proc.log)
        return proc


LITELLM_CONFIG = """\
model_list:
{models}
general_settings:
  master_key: {master}
litellm_settings:
  callbacks: pg_logger.proxy_handler_instance
  telemetry: false
"""
LITELLM_MASTER = "sk-bench-master"


def start_litellm(work: Path, venv: Path, models: dict[str, tuple[str, str]], pg_url: str) -> Proc:
    """The LiteLLM proxy (one worker) with ``models``: name -> (litellm model, api_base)."""
    run = work / "litellm"
    run.mkdir(parents=True, exist_ok=True)
    entries = "".join(
        f"  - model_name: {name}\n    litellm_params:\n      model: {model}\n"
        f"      api_base: {base}\n      api_key: sk-bench-vendor\n"
        for name, (model, base) in models.items()
    )
    (run / "config.yaml").write_text(LITELLM_CONFIG.format(models=entries, master=LITELLM_MASTER))
    logger = Path(__file__).with_name("litellm_pg_logger.py")
    (run / "pg_logger.py").write_text(logger.read_text())
    port = free_port()
    env = {
        **os.environ,
        "LITELLM_BENCH_PG": pg_url,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "PYTHONPATH": str(run),
    }
    env.pop("DATABASE_URL", None)
    command = [
        str(venv / "bin" / "litellm"),
        "--config",
        "config.yaml",
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--num_workers",
        "1",
    ]
    proc = Proc.spawn("litellm", command, port, work / "litellm.log", env, run)
    wait_until(f"http://127.0.0.1:{port}/health/liveliness", proc.process, 180, proc.log)
    return proc
