"""``distillguard serve`` as a real subprocess in front of an upstream, for end-to-end tests.

with GatewayProcess.start(home, config) as gateway:     # waits for /healthz
    key = gateway.create_key(actor="ana", team="infra", approved_by="lead")
    ...  # clients use gateway.url("anthropic") / gateway.url("openai") + "/v1"
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx

from distillguard.config import default_db_url
from distillguard.ledger import Ledger
from distillguard.model import Output
from tests.clis.harness import CLAUDE_MODEL, CODEX_MODEL

DISTILLGUARD = Path(sys.executable).parent / "distillguard"
UPSTREAM_KEYS = {"ANTHROPIC_API_KEY": "sk-ant-upstream", "OPENAI_API_KEY": "sk-openai-upstream"}
#: A price table for the models the CLI tests use (USD per million tokens).
PRICES = f"""version = "test-prices-1"

[anthropic."{CLAUDE_MODEL}"]
input = 3.0
output = 15.0
cache_read = 0.3
cache_write = 3.75
cache_write_1h = 6.0

[openai."{CODEX_MODEL}"]
input = 1.25
output = 10.0
cache_read = 0.125
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def gateway_config(upstream: str, prices: Path | None = None) -> str:
    """A config whose ``anthropic`` and ``openai`` upstreams are ``upstream`` (an origin)."""
    text = (
        "[upstreams.anthropic]\n"
        'api = "anthropic"\n'
        f'base_url = "{upstream}"\n'
        'key_env = "ANTHROPIC_API_KEY"\n'
        "\n"
        "[upstreams.openai]\n"
        'api = "openai"\n'
        f'base_url = "{upstream}"\n'
        'key_env = "OPENAI_API_KEY"\n'
    )
    if prices is not None:
        text += f'\n[gateway]\nprices = "{prices}"\n'
    return text


@dataclass(frozen=True)
class GatewayHome:
    """A DISTILLGUARD_HOME with its config, and the environment its commands run with."""

    home: Path
    config: Path
    env: dict[str, str]

    @classmethod
    def create(cls, home: Path, config_text: str, upstream_keys: dict[str, str]) -> Self:
        home.mkdir(parents=True, exist_ok=True)
        config = home / "distillguard.toml"
        config.write_text(config_text)
        env = {
            **os.environ,
            "DISTILLGUARD_HOME": str(home),
            "DISTILLGUARD_CONFIG": str(config),
            **upstream_keys,
        }
        env.pop("DISTILLGUARD_DB", None)
        return cls(home, config, env)

    def create_key(self, actor: str, team: str, approved_by: str) -> str:
        """``distillguard keys create``: the new key (its last line of output)."""
        command = [str(DISTILLGUARD), "keys", "create", "--actor", actor, "--team", team]
        done = subprocess.run(
            [*command, "--approved-by", approved_by],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"keys create failed ({done.returncode}):\n{done.stderr}")
        return done.stdout.strip().splitlines()[-1].strip()

    def serve(self, timeout: float = 60.0) -> GatewayProcess:
        """Start ``distillguard serve`` on a free port and wait for /healthz."""
        port = free_port()
        log = self.home / "serve.log"
        command = [str(DISTILLGUARD), "serve", "--host", "127.0.0.1", "--port", str(port)]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=self.home
            )
        gateway = GatewayProcess(process, port, log)
        gateway.wait_healthy(timeout)
        return gateway


@dataclass
class GatewayProcess:
    """A running ``distillguard serve``; its log is ``home/serve.log``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, upstream: str) -> str:
        """Where clients of ``upstream`` point: ``http://host:port/NAME``."""
        return f"{self.origin}/{upstream}"

    def wait_healthy(self, timeout: float) -> None:
        def healthy() -> bool:
            try:
                return httpx.get(self.origin + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_for(healthy, timeout, lambda: self.process.poll() is not None):
            self.stop()
            raise RuntimeError(f"distillguard serve did not come up:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM (a graceful stop drains the spool), SIGKILL after 20 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(
    condition: Callable[[], bool], timeout: float, give_up: Callable[[], bool] | None = None
) -> bool:
    """Poll ``condition`` every 50 ms until it holds (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if give_up is not None and give_up():
            return False
        time.sleep(0.05)
    return condition()


@dataclass(frozen=True)
class Served:
    """A running gateway, a key for ``ana`` of team ``infra``, and its DISTILLGUARD_HOME."""

    process: GatewayProcess
    key: str
    home: Path

    def endpoint(self, cli: str) -> str:
        """What the CLI is pointed at: Claude Code's base URL, or Codex's provider base_url."""
        return (
            self.process.url("anthropic") if cli == "claude" else self.process.url("openai") + "/v1"
        )

    def outputs(self, message_ids: tuple[str, ...], timeout: float = 30) -> list[Output]:
        """The ledger's outputs with these message ids (in that order), once they are all
        there or ``timeout`` has passed."""
        found: list[Output] = []

        def recorded() -> bool:
            nonlocal found
            with Ledger(default_db_url(self.home)) as ledger:
                found = [o for o in ledger.iter_outputs() if o.message_id in message_ids]
            return len(found) >= len(message_ids)

        wait_for(recorded, timeout)
        return sorted(found, key=lambda o: message_ids.index(o.message_id or ""))


@contextmanager
def serving(root: Path, upstream: str, extra_config: str = "") -> Iterator[Served]:
    """``distillguard serve`` in ``root`` with both upstreams at ``upstream``, the test price
    table, ``extra_config`` (e.g. a ``[teams.infra]`` table) and a key created before it starts."""
    root.mkdir(parents=True, exist_ok=True)
    prices = root / "prices.toml"
    prices.write_text(PRICES)
    config = gateway_config(upstream, prices) + extra_config
    setup = GatewayHome.create(root / "dg-home", config, UPSTREAM_KEYS)
    key = setup.create_key(actor="ana", team="infra", approved_by="lead")
    with setup.serve() as process:
        yield Served(process, key, setup.home)
