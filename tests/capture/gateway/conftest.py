"""A real ``distillguard serve`` (uvicorn, own process) in front of the fake vendor upstream."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from distillguard.ledger import Ledger
from distillguard.model import Output
from tests.fakes.vendors import VendorUpstream, vendor_upstream  # noqa: F401

T = TypeVar("T")
DISTILLGUARD = str(Path(sys.executable).parent / "distillguard")
VENDOR_KEYS = {"ANTHROPIC_API_KEY": "sk-ant-vendor-secret", "OPENAI_API_KEY": "sk-openai-secret"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    """A running gateway: its URL, a key for ``ada`` of team ``ml``, its ledger."""

    url: str
    home: Path
    db_url: str
    env: dict[str, str]
    config: Path
    process: subprocess.Popen[bytes] | None = None
    keys: dict[str, str] = field(default_factory=dict)
    clients: list[Any] = field(default_factory=list)

    def adopt(self, client: T) -> T:
        """Close ``client`` (an SDK client) with the gateway."""
        self.clients.append(client)
        return client

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [DISTILLGUARD, "--config", str(self.config), *args]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=check)

    def new_key(self, actor: str, team: str, *extra: str) -> str:
        out = self.cli(
            "keys", "create", "--actor", actor, "--team", team, "--approved-by", "boss", *extra
        )
        return out.stdout.strip().splitlines()[-1]

    def start(self, timeout: float = 90.0) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        command = [
            DISTILLGUARD,
            "--config",
            str(self.config),
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        env = self.env | VENDOR_KEYS
        with (self.home / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.home / "serve.log").read_text())
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the gateway did not start: " + (self.home / "serve.log").read_text())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def outputs(self, n: int, timeout: float = 10.0) -> list[Output]:
        """The ledger's outputs once there are ``n`` (the drain writes every 0.5 s)."""
        deadline = time.monotonic() + timeout
        with Ledger(self.db_url) as ledger:
            while ledger.count() < n and time.monotonic() < deadline:
                time.sleep(0.05)
            found = list(ledger.iter_outputs())
        assert len(found) == n, f"expected {n} outputs, the ledger has {len(found)}"
        return found


def write_config(path: Path, upstream_url: str, extra: str = "") -> None:
    path.write_text(
        f"""
[upstreams.anthropic]
api = "anthropic"
base_url = "{upstream_url}"
key_env = "ANTHROPIC_API_KEY"

[upstreams.openai]
api = "openai"
base_url = "{upstream_url}"
key_env = "OPENAI_API_KEY"

[upstreams.metacode]
api = "openai"
base_url = "{upstream_url}"
vendor = "metacode"

[upstreams.down]
api = "anthropic"
base_url = "http://127.0.0.1:{free_port()}"
vendor = "anthropic"

[vendors.metacode]
class = "internal"

[teams.ml]
vendors = ["anthropic", "openai", "metacode"]

[teams.web]
vendors = ["openai"]
models = ["gpt-4o*"]

[teams.broke]
budget_usd = 0.0000001
"""
        + extra
    )


@pytest.fixture
def make_gateway(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    made: list[Served] = []

    def make(
        upstream_url: str, db_url: str | None = None, start: bool = True, extra: str = ""
    ) -> Served:
        home = tmp_path / f"home{len(made)}"
        home.mkdir()
        config = home / "distillguard.toml"
        write_config(config, upstream_url, extra)
        db = db_url or f"sqlite:///{home / 'ledger.db'}"
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env |= {"DISTILLGUARD_HOME": str(home), "DISTILLGUARD_DB": db}
        served = Served(f"http://127.0.0.1:{free_port()}", home, db, env, config)
        served.keys["ada"] = served.new_key("ada", "ml")
        made.append(served)
        if start:
            served.start()
        return served

    yield make
    for served in made:
        for client in served.clients:
            client.close()
        served.stop()


@pytest.fixture
def gateway(make_gateway: Callable[..., Served], vendor_upstream: VendorUpstream) -> Served:  # noqa: F811
    served: Served = make_gateway(vendor_upstream.base_url)
    return served


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs for the spool (needs root: skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace')}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)
