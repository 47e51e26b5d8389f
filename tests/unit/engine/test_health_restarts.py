"""Unhealthy containers with a restart policy are taken out of rotation, stopped and restarted by
the next pass; without a policy they are only reported."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestrator.engine import reconcile
from orchestrator.engine.project_ops import UpOptions
from tests.unit.engine.fakes import Harness, build

WEB = """
name: demo
services:
  web:
    image: busybox
    restart: {restart}
    ports: ["8080:80"]
    deploy: {{replicas: 2}}
    healthcheck: {{test: ["CMD", "check"], interval: 1s, retries: 1}}
"""


def up(h: Harness, restart: str) -> dict[str, str]:
    h.engine.ops.up(h.project(WEB.format(restart=restart)), UpOptions())
    h.scheduler.run_probes()  # both healthy
    return {n: h.network.addresses[(h.runtime.by_name(n).id, "demo_default")] for n in ("demo-web-1", "demo-web-2")}


class _Clock:
    """The reconcile module's `time`: wall-clock time set by the test, monotonic time the host's."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return time.monotonic()


def kinds(h: Harness, subject: str | None = None) -> list[str]:
    return [e.kind for e in h.engine.store.events_since(0, "demo", limit=1000) if subject in (None, e.subject)]


def test_an_unhealthy_replica_leaves_the_port_before_it_is_stopped_then_restarts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = build(tmp_path)
    ips = up(h, "always")
    assert sorted(h.network.backends("demo", "web")) == sorted(ips.values())
    backends_at_stop: list[list[str]] = []
    stop = h.runtime.stop

    def watched_stop(cid: str, timeout: float | None = None) -> object:
        backends_at_stop.append(list(h.network.backends("demo", "web")))
        return stop(cid, timeout)

    h.runtime.stop = watched_stop  # type: ignore[method-assign]
    h.runtime.probe_codes["demo-web-1"] = 1
    h.scheduler.run_probes()
    assert backends_at_stop == [[ips["demo-web-2"]]]
    assert h.runtime.names("exited") == ["demo-web-1"]
    assert kinds(h, "demo-web-1")[-2:] == ["health_status", "container-unhealthy-restart"]

    # The pass's clock is the test's: on a loaded host a pass may begin more than 100 ms after the
    # exit, when the restart is due at once and no timer is left to see.
    exited = h.runtime.by_name("demo-web-1")
    assert exited.finished_at is not None
    clock = _Clock(exited.finished_at + 0.05)
    monkeypatch.setattr(reconcile, "time", clock)
    h.engine.reconcile_all()  # Docker's backoff: the restart waits 100 ms, on a timer
    assert h.runtime.names("exited") == ["demo-web-1"]
    assert [round(at - exited.finished_at, 3) for at in h.scheduler.wakes()] == [0.1]
    h.engine.reconcile_all()  # another pass during the backoff: still one timer
    assert h.runtime.names("exited") == ["demo-web-1"]
    assert [round(at - exited.finished_at, 3) for at in h.scheduler.wakes()] == [0.1]
    clock.now = h.scheduler.wakes()[0] + 0.01
    h.engine.reconcile_all()
    assert h.runtime.names("running") == ["demo-web-1", "demo-web-2"]
    assert ("respawn", "demo-web-1") in h.runtime.calls
    assert len(h.network.backends("demo", "web")) == 2


def test_without_a_restart_policy_an_unhealthy_replica_is_only_reported(tmp_path: Path) -> None:
    h = build(tmp_path)
    up(h, "'no'")
    h.runtime.probe_codes["demo-web-1"] = 1
    h.scheduler.run_probes()
    assert h.runtime.names("running") == ["demo-web-1", "demo-web-2"]
    assert "container-unhealthy-restart" not in kinds(h)
    events = [e for e in h.engine.store.events_since(0, "demo", limit=1000) if e.kind == "health_status"]
    assert events[-1].subject == "demo-web-1" and events[-1].detail["status"] == "unhealthy"
    assert len(h.network.backends("demo", "web")) == 2  # health does not gate the port: Docker's rule
