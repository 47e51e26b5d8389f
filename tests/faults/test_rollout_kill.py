"""The engine SIGKILLed in the middle of a rolling update, under a client that sends requests
back to back through the published port: not one request may fail, and the next engine finishes
the rollout with exactly the desired replicas, all of the new version.

Ten seeded crash points of a start-first update of two replicas (counted first with a traced
engine), the first and the last among them; each trial rolls the service to the other version,
so the trials follow each other in one instance.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.e2e.test_rollout import Hammer
from tests.faults import harness
from tests.faults.census import integrity
from tests.helpers import free_port, http_get, pyorch, wait_http

pytestmark = [pytest.mark.root, pytest.mark.faults]

PROJECT = """
name: roll
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo \\"$$VERSION\\" > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment:
      VERSION: ${VERSION}
    ports: ["127.0.0.1:${PORT}:80"]
    healthcheck:
      test: ["CMD", "test", "-s", "/www/index.html"]
      interval: 200ms
      timeout: 5s
      retries: 3
    restart: always
    deploy:
      replicas: 2
      update_config:
        parallelism: 1
        order: start-first
        monitor: 300ms
        failure_action: rollback
"""
REPLICAS = 2


def _bodies(layout: HostLayout, file: str, env: dict[str, str]) -> list[str]:
    """What each running replica serves, asked directly (not through the port)."""
    bodies = []
    for row in harness.ps(layout, "roll"):
        if row["status"] == "running":
            (ip,) = row["networks"].values()
            bodies.append(http_get(f"http://{ip}/")[1].strip())
    return sorted(bodies)


def _settled(layout: HostLayout, file: str, env: dict[str, str], version: str) -> list[str]:
    rows = harness.ps(layout, "roll")
    problems = harness.mismatches(layout, rows, None)
    if len(rows) != REPLICAS:
        problems.append(f"{len(rows)} replicas: {sorted(r['name'] for r in rows)}")
    if not problems and _bodies(layout, file, env) != [version] * REPLICAS:
        problems.append(f"replicas serve {_bodies(layout, file, env)}")
    return problems


def _rollout(layout: HostLayout, file: str, env: dict[str, str]) -> dict[str, object]:
    rows = json.loads(pyorch(layout, "-f", file, "rollout", "status", "--format", "json", **env).stdout)
    return {str(k): v for k, v in rows[0].items()}


def test_engine_killed_during_a_rolling_update_under_requests(layout: HostLayout, tmp_path: Path) -> None:
    file, port = str(tmp_path / "compose.yaml"), free_port()
    Path(file).write_text(PROJECT)
    versions = [{"VERSION": f"v{i}", "PORT": str(port)} for i in (1, 2)]
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d", "--wait", **versions[0])
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        trace = tmp_path / "rollout.trace"
        harness.restart_engine(layout, PYORCH_CRASH_TRACE=str(trace))
        pyorch(layout, "-f", file, "up", "-d", "--wait", **versions[1])
        assert _settled(layout, file, versions[1], "v2") == []
        points = trace.read_text().splitlines()
        chosen = harness.kill_points(len(points), "rollout")
        assert len(chosen) == harness.KILLS_PER_SCENARIO, points
        with Hammer(port, limit_s=900).running() as hammer:
            for trial, at in enumerate(chosen):
                env = versions[trial % 2]
                version = env["VERSION"]
                where = f"trial {trial}: a kill at point {at} ({points[at - 1]}) of a rollout to {version}"
                failed_before = len(hammer.failures)
                pid = harness.armed(layout, at)
                pyorch(layout, "-f", file, "up", "-d", **env)  # the rollout runs on in the engine
                harness.wait_dead(pid, f"the armed engine to die ({where})", deadline_s=120)
                pyorch(layout, "-f", file, "rollout", "status", "--wait", **env)  # a new engine resumes it
                assert hammer.failures[failed_before:] == [], where
                assert _settled(layout, file, env, version) == [], (where, _rollout(layout, file, env),
                                                                    harness.engine_log(layout, 60))
                record = _rollout(layout, file, env)
                assert (record["kind"], record["status"], record["failed"]) == ("update", "completed", 0), (where,
                                                                                                           record)
            time.sleep(0.3)
        assert hammer.failures == [], f"{len(hammer.failures)} failed requests: {hammer.failures[:5]}"
        assert sum(hammer.bodies.values()) > 0
    finally:
        pyorch(layout, "-f", file, "down", "-t", "0", **versions[0])
    assert harness.leftovers(layout) == []
    assert integrity(layout) == "ok"
