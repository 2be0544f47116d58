"""``distillguard scan --engine ray`` on a local Ray cluster (2 CPUs), against the local engine
on the same real corpus: the same report and outputs; a worker killed mid-scan; a driver killed
mid-scan (its whole process group, cluster included) and the scan resumed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from distillguard.scan.outdir import SHARDS
from tests.runner.ray_cluster import ray_cluster  # noqa: F401  (the fixture)
from tests.scan.ray_corpus import make_corpus, outputs_of, without_timing

pytestmark = pytest.mark.usefixtures("ray_cluster")


def report(out: Path) -> dict[str, Any]:
    return json.loads((out / "report.json").read_text())  # type: ignore[no-any-return]


def markers(out: Path) -> int:
    return len(list((out / SHARDS).glob("*.json"))) if (out / SHARDS).is_dir() else 0


def scan(run, *args: str):  # type: ignore[no-untyped-def]
    result = run("scan", "corpus", *args)
    assert result.exit_code == 0, result.output
    return result


def actor_pids() -> list[int]:
    """The processes of the runner's actors on this machine (Ray titles them ``ray::_Worker``)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::_Worker"):
                found.append(int(entry))
    return found


def test_ray_gives_the_local_report_and_outputs(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_corpus(tmp_path, run)
    scan(run, "--out", "local", "--workers", "2")
    result = scan(run, "--out", "ray", "--engine", "ray")
    assert "ray: 2 workers" in result.output
    local, ray = report(tmp_path / "local"), report(tmp_path / "ray")
    assert local["flagged"] >= 4 and local["skipped"] and ray["workers"] == 2
    assert without_timing(ray) == without_timing(local)
    assert outputs_of(tmp_path / "ray") == outputs_of(tmp_path / "local")
    assert markers(tmp_path / "ray") == len(list((tmp_path / "corpus").rglob("*.*")))


def test_a_worker_killed_mid_scan_changes_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_corpus(tmp_path, run, files=30, repeat=8)
    scan(run, "--out", "local", "--workers", "1")
    killed: list[int] = []

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 120
        while not markers(tmp_path / "ray") and time.monotonic() < deadline:
            time.sleep(0.005)
        pids = actor_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    scan(run, "--out", "ray", "--engine", "ray")
    killer.join()
    assert killed, "no worker was running to kill"
    assert markers(tmp_path / "ray") == len(list((tmp_path / "corpus").rglob("*.*")))
    assert without_timing(report(tmp_path / "ray")) == without_timing(report(tmp_path / "local"))
    assert outputs_of(tmp_path / "ray") == outputs_of(tmp_path / "local")


def test_a_driver_killed_mid_scan_resumes_to_the_same_report(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_corpus(tmp_path, run, files=30, repeat=8)
    shards = len(list((tmp_path / "corpus").rglob("*.*")))
    env = {**os.environ, "DISTILLGUARD_HOME": str(tmp_path / "home")}
    cli = [sys.executable, "-c", "from distillguard.cli import main; main()"]
    command = [*cli, "scan", "corpus", "--out", "ray"]
    log = tmp_path / "driver.log"
    with log.open("wb") as stderr:
        driver = subprocess.Popen(
            [*command, "--engine", "ray", "--workers", "2"],
            cwd=tmp_path,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            while markers(tmp_path / "ray") < 2 and driver.poll() is None:
                time.sleep(0.005)
        finally:
            os.killpg(driver.pid, signal.SIGKILL)  # the driver and the cluster it started
            driver.wait()
    completed = markers(tmp_path / "ray")
    assert 2 <= completed < shards, log.read_text()
    assert not (tmp_path / "ray" / "report.json").exists()
    result = scan(run, "--out", "ray", "--engine", "ray", "--resume")
    reused = re.search(rf"resumed: (\d+) of {shards} shards were already complete", result.output)
    assert reused and int(reused.group(1)) >= completed  # a marker may land as the group dies
    scan(run, "--out", "local", "--workers", "1")
    assert without_timing(report(tmp_path / "ray")) == without_timing(report(tmp_path / "local"))
    assert outputs_of(tmp_path / "ray") == outputs_of(tmp_path / "local")


def test_resume_and_address_need_the_ray_engine(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_corpus(tmp_path, run, files=2)
    for flag in (["--resume"], ["--ray-address", "auto"]):
        result = run("scan", "corpus", "--out", "out", *flag)
        assert result.exit_code == 2 and f"{flag[0]} needs --engine ray" in result.output
