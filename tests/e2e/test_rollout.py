"""Rolling updates as a user runs them: zero failed requests during a start-first update, and an
automatic rollback when the new version never becomes healthy (the old one keeps serving)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import free_port, http_get, pyorch, wait_http

pytestmark = pytest.mark.root

COMPOSE = """
name: rolling
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo \\"$$VERSION\\" > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment:
      VERSION: ${VERSION}
    ports: ["127.0.0.1:${PORT}:80"]
    healthcheck:
      test: ["CMD-SHELL", "${CHECK:-test -s /www/index.html}"]
      interval: 500ms
      timeout: 5s
      retries: 4
    restart: always
    deploy:
      replicas: 3
      update_config:
        parallelism: 1
        order: start-first
        monitor: 1s
        failure_action: rollback
      rollback_config:
        order: start-first
        monitor: 1s
"""


class Hammer:
    """A client sending requests one after another (a new connection each) and counting outcomes."""

    def __init__(self, port: int, limit_s: float = 240.0) -> None:
        self.port = port
        self.limit_s = limit_s
        self.bodies: Counter[str] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + self.limit_s  # bounded even if the test forgets to stop it
        while not self._stop.is_set() and time.monotonic() < end:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/", headers={"Connection": "close"})
                response = conn.getresponse()
                body = response.read().decode().strip()
                if response.status != 200:
                    self.failures.append(f"status {response.status}")
                else:
                    self.bodies[body] += 1
            except OSError as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            finally:
                conn.close()
            time.sleep(0.005)

    @contextmanager
    def running(self) -> Iterator[Hammer]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def _project(tmp_path: Path) -> str:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    return str(path)


def _replica_bodies(layout: HostLayout, compose: str, env: dict[str, str]) -> list[str]:
    rows = json.loads(pyorch(layout, "-f", compose, "ps", "--format", "json", **env).stdout)
    running = [r for r in rows if r["service"] == "web" and r["status"] == "running"]
    bodies = []
    for row in running:
        (ip,) = row["networks"].values()
        status, body = http_get(f"http://{ip}/")
        assert status == 200
        bodies.append(body.strip())
    return sorted(bodies)


def _rollouts(layout: HostLayout, compose: str, env: dict[str, str]) -> dict[str, dict[str, object]]:
    rows = json.loads(pyorch(layout, "-f", compose, "rollout", "status", "--format", "json", **env).stdout)
    return {str(r["service"]): r for r in rows}


def test_start_first_update_serves_every_request(layout: HostLayout, tmp_path: Path) -> None:
    compose, port = _project(tmp_path), free_port()
    v1 = {"VERSION": "v1", "PORT": str(port)}
    v2 = {"VERSION": "v2", "PORT": str(port)}
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", compose, "up", "-d", "--wait", **v1)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        with Hammer(port).running() as hammer:
            before = sum(hammer.bodies.values())
            pyorch(layout, "-f", compose, "up", "-d", "--wait", **v2)
            time.sleep(0.5)  # a few requests after the rollout finished
        assert hammer.failures == [], f"{len(hammer.failures)} failed requests: {hammer.failures[:5]}"
        assert hammer.bodies["v1"] > before >= 0 and hammer.bodies["v2"] > 0, hammer.bodies
        assert set(hammer.bodies) == {"v1", "v2"}
        assert _replica_bodies(layout, compose, v2) == ["v2", "v2", "v2"]
        record = _rollouts(layout, compose, v2)["web"]
        assert (record["kind"], record["status"], record["updated"], record["failed"]) == ("update", "completed", 3, 0)
        # the dashboard's frame against the real project: replicas, health, resources, the rollout
        frame = pyorch(layout, "-f", compose, "dashboard", "--once", **v2).stdout
        web = next(line for line in frame.splitlines() if "│ web " in line)
        assert "3/3" in web and "3 healthy" in web and "update completed 3/3" in web and f":{port}->80/tcp" in web
        assert re.search(r"│ web .*\d+(\.\d+)?(B|KiB|MiB|GiB) ", web), web  # three small replicas can be under 1 MiB
        assert sum("rolling-web-" in line and "running" in line for line in frame.splitlines()) == 3

        # `pyorch rollback web` restores v1, rolled out with rollback_config, again without a failed request
        with Hammer(port).running() as hammer:
            pyorch(layout, "-f", compose, "rollback", "web", **v2)
            time.sleep(0.5)
        assert hammer.failures == [], f"{len(hammer.failures)} failed requests: {hammer.failures[:5]}"
        assert hammer.bodies["v1"] > 0, hammer.bodies
        assert _replica_bodies(layout, compose, v1) == ["v1", "v1", "v1"]
        record = _rollouts(layout, compose, v1)["web"]
        assert (record["kind"], record["status"], record["updated"]) == ("rollback", "rollback_completed", 3)
    finally:
        pyorch(layout, "-f", compose, "down", "-t", "2", **v1)


def test_unhealthy_update_rolls_back_and_old_version_keeps_serving(layout: HostLayout, tmp_path: Path) -> None:
    compose, port = _project(tmp_path), free_port()
    v1 = {"VERSION": "v1", "PORT": str(port)}
    bad = {"VERSION": "v2", "PORT": str(port), "CHECK": "false"}
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", compose, "up", "-d", "--wait", **v1)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        with Hammer(port).running() as hammer:
            result = pyorch(layout, "-f", compose, "up", "-d", "--wait", check=False, **bad)
        assert result.returncode != 0
        assert "rollback" in result.stderr and "web" in result.stderr, result.stderr
        assert hammer.failures == [], f"{len(hammer.failures)} failed requests: {hammer.failures[:5]}"
        assert set(hammer.bodies) == {"v1"}, hammer.bodies
        assert _replica_bodies(layout, compose, v1) == ["v1", "v1", "v1"]
        record = _rollouts(layout, compose, v1)["web"]
        assert (record["kind"], record["status"]) == ("rollback", "rollback_completed")
        assert record["revision"] == 3  # the rollback is a stored revision after v1 (1) and v2 (2)
    finally:
        pyorch(layout, "-f", compose, "down", "-t", "2", **v1)


RESUMED = """
name: resumed
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo $$VERSION; exec sleep 1000"]
    environment:
      VERSION: ${VERSION}
    init: true
    deploy:
      replicas: 4
      update_config:
        parallelism: 1
        order: stop-first
        monitor: 3s
"""


def _events(layout: HostLayout, kind: str) -> list[dict[str, object]]:
    """Events straight from the engine's store (the engine may be down)."""
    from orchestrator.engine.store import Store

    store = Store(layout.state_root / "engine.db")
    try:
        return [dict(e.detail, subject=e.subject) for e in store.events_since(0) if e.kind == kind]
    finally:
        store.close()


def test_a_rollout_resumed_after_an_engine_kill_counts_every_replica(layout: HostLayout, tmp_path: Path) -> None:
    """The engine is SIGKILLed while a replica it just replaced is being monitored: that replica is
    no longer outdated when the next engine resumes the rollout, and still counts as updated."""
    compose = tmp_path / "compose.yaml"
    compose.write_text(RESUMED)
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", str(compose), "up", "-d", "--wait", VERSION="v1")
    try:
        pyorch(layout, "-f", str(compose), "up", "-d", VERSION="v2")
        # the first replica is counted; the second is created and inside its 3 s monitor
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            progress = _events(layout, "update-progress")
            created = [e for e in _events(layout, "container-start") if e.get("service") == "web"]
            if len(progress) == 1 and len(created) >= 4 + 2:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the rollout did not reach its second replica")
        os.kill(int((layout.run_root / "engine.pid").read_text()), signal.SIGKILL)
        pyorch(layout, "-f", str(compose), "rollout", "status", "--wait", VERSION="v2")  # a new engine resumes it
        record = _rollouts(layout, str(compose), {"VERSION": "v2"})["web"]
        assert (record["status"], record["updated"], record["total"], record["failed"]) == ("completed", 4, 4, 0)
        rows = json.loads(pyorch(layout, "-f", str(compose), "ps", "--format", "json", VERSION="v2").stdout)
        assert len(rows) == 4 and all(r["status"] == "running" for r in rows)
    finally:
        pyorch(layout, "-f", str(compose), "down", "-t", "1", VERSION="v2")
