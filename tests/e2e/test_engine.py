"""The engine as users see it: restart policies, recreate on change, dependencies, --wait, live restore."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch, wait_until, write

pytestmark = pytest.mark.root


def ps(layout: HostLayout, file: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout)
    return rows


def events(layout: HostLayout, kind: str) -> list[dict[str, object]]:
    """Events straight from the engine store (what the API's /v1/events streams)."""
    from orchestrator.engine.store import Store

    store = Store(layout.state_root / "engine.db")
    try:
        return [dict(e.detail, subject=e.subject, ts=e.ts) for e in store.events_since(0) if e.kind == kind]
    finally:
        store.close()


def test_crashing_service_restarts_with_doubling_backoff(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, """
name: crash
services:
  c:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo started; exit 1"]
    restart: always
""")
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d")
    try:
        wait_until(lambda: len(events(layout, "container-restart")) >= 5, "five restarts")
        restarts = events(layout, "container-restart")[:5]
        assert [round(float(e["delay"]), 3) for e in restarts] == [0.1, 0.2, 0.4, 0.8, 1.6]
        assert [e["restart_count"] for e in restarts] == [1, 2, 3, 4, 5]
        for e in restarts:  # no restart ran before its backoff delay was over
            assert float(e["ts"]) >= float(e["not_before"])
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def test_on_failure_3_gives_up_after_three_restarts(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, """
name: onfail
services:
  c:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "exit 3"]
    restart: on-failure:3
""")
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d")
    try:
        wait_until(lambda: len(events(layout, "container-restart")) >= 3, "three restarts")
        time.sleep(3.5)  # longer than the next backoff delay (0.8 s) plus two passes: no fourth restart
        rows = ps(layout, file)
        assert len(events(layout, "container-restart")) == 3
        assert [(r["status"], r["exit_code"], r["restart_count"]) for r in rows] == [("exited", 3, 3)]
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def test_up_after_editing_one_service_recreates_only_that_service(layout: HostLayout, tmp_path: Path) -> None:
    template = """
name: edit
services:
  a:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
  b:
    image: pyorch.local/busybox:latest
    command: ["sleep", "{b}"]
    deploy: {{replicas: 2}}
"""
    file = write(tmp_path, template.format(b=1000))
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d")
    try:
        before = {r["name"]: r["id"] for r in ps(layout, file)}
        pyorch(layout, "-f", file, "up", "-d")
        assert {r["name"]: r["id"] for r in ps(layout, file)} == before  # no change, no action
        write(tmp_path, template.format(b=2000))
        pyorch(layout, "-f", file, "up", "-d")
        after = {r["name"]: r["id"] for r in ps(layout, file)}
        assert after["edit-a-1"] == before["edit-a-1"]
        assert after["edit-b-1"] != before["edit-b-1"] and after["edit-b-2"] != before["edit-b-2"]
        assert sorted(after) == sorted(before)
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def test_depends_on_service_healthy_waits_for_health(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, """
name: deps
services:
  db:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; sleep 1000"]
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, start_period: 10s, start_interval: 300ms}
  app:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
    depends_on:
      db: {condition: service_healthy}
""")
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d")
    try:
        rows = {r["service"]: r for r in ps(layout, file)}
        health = rows["db"]["health"]
        assert isinstance(health, dict) and health["status"] == "healthy"
        # after the probe that made db healthy (the first success kept in its log; probes that
        # came later, an interval on, may end after app started)
        healthy_at = min(float(r["end"]) for r in health["log"] if r["exit_code"] == 0)  # type: ignore[index]
        assert float(rows["app"]["started_at"]) >= healthy_at - 0.001
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def test_up_wait_fails_fast_on_an_unhealthy_service(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, """
name: sick
services:
  s:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
    healthcheck: {test: ["CMD", "false"], interval: 300ms, retries: 2}
""")
    pyorch(layout, "image", "bootstrap")
    try:
        result = pyorch(layout, "-f", file, "up", "--wait", "--wait-timeout", "120", check=False)
        assert result.returncode == 1
        assert "not healthy" in result.stderr
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def test_live_restore_after_engine_sigkill(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, """
name: live
services:
  w:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "i=0; while true; do echo line $$i; i=$$((i+1)); sleep 0.1; done"]
    deploy: {replicas: 20}
    restart: always
""")
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d")
    try:
        before = {r["name"]: r["id"] for r in ps(layout, file)}
        assert len(before) == 20
        engine_pid = int((layout.run_root / "engine.pid").read_text())
        os.kill(engine_pid, signal.SIGKILL)
        # While the engine is down, one container dies: the shim records its exit.
        victim = next(r for r in ps_from_disk(layout) if r[0] == "live-w-7")
        os.kill(victim[1], signal.SIGKILL)
        time.sleep(1.0)
        rows = ps(layout, file)  # the CLI starts a new engine, which adopts everything
        assert {r["name"]: r["id"] for r in rows} == before  # adopted once: same containers, no duplicates
        wait_until(lambda: all(r["status"] == "running" for r in ps(layout, file)), "the victim restarted")
        restarted = {r["name"]: r["restart_count"] for r in ps(layout, file)}
        assert restarted["live-w-7"] == 1
        assert sum(int(str(v)) for v in restarted.values()) == 1
        # the exit that happened while the engine was down is an event, recorded exactly once
        assert [(e["subject"], e["exit_code"]) for e in events(layout, "container-die")] == [("live-w-7", 137)]
        logs = pyorch(layout, "-f", file, "logs", "--no-log-prefix", "w").stdout
        numbers = [int(line.split()[1]) for line in logs.splitlines() if line.startswith("line ")]
        assert numbers, logs
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def test_health_survives_an_engine_restart(layout: HostLayout, tmp_path: Path) -> None:
    """Live restore keeps a container's health for its current run (Docker keeps State.Health)."""
    file = write(tmp_path, """
name: keep
services:
  db:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "touch /tmp/ready; sleep 1000"]
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1h, start_period: 60s, start_interval: 200ms}
""")
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d", "--wait")
    try:
        before = ps(layout, file)[0]["health"]
        assert isinstance(before, dict) and before["status"] == "healthy"
        # From now on a fresh probe would fail, and inside the start period that keeps "starting".
        pyorch(layout, "-f", file, "exec", "db", "rm", "/tmp/ready")
        os.kill(int((layout.run_root / "engine.pid").read_text()), signal.SIGKILL)
        time.sleep(0.5)
        after = ps(layout, file)[0]["health"]  # a new engine
        time.sleep(1.0)  # longer than start_interval: a monitor that forgot would have probed by now
        later = ps(layout, file)[0]["health"]
        assert isinstance(after, dict) and isinstance(later, dict)
        assert after["status"] == later["status"] == "healthy"
        assert later["log"] == before["log"]  # the same probes: the next one is due in an hour
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def ps_from_disk(layout: HostLayout) -> list[tuple[str, int]]:
    """Container names and pids as the runtime records them (the engine is down)."""
    result = []
    for bundle in layout.containers_dir.iterdir():
        record = json.loads((bundle / "container.json").read_text())
        result.append((record["name"], int(record["pid"])))
    return result
