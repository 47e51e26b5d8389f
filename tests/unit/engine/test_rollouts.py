"""Rolling updates over the in-memory runtime: a replica in flight is hidden from the planner and
kept out of the published port, and a failing update pauses or rolls back as Swarm's does."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator.engine.project_ops import UpOptions
from tests.unit.engine.fakes import Harness, build

ROLLING = """
name: demo
services:
  web:
    image: {image}
    restart: always
    ports: ["8080:80"]
    deploy:
      replicas: 2
      update_config: {{order: {order}, monitor: 10ms, failure_action: {action}}}
      rollback_config: {{monitor: 10ms}}
"""


def up(h: Harness, image: str, order: str = "stop-first", action: str = "pause") -> None:
    result = h.engine.ops.up(h.project(ROLLING.format(image=image, order=order, action=action)), UpOptions())
    assert result["errors"] == []


def settled(h: Harness, status: str, timeout: float = 20.0) -> dict[str, Any]:
    """The rollout record once its runner has ended with ``status`` (bounded wait for its thread)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = h.engine.rollouts.status("demo")
        if rows and rows[0]["status"] == status and not rows[0]["running"]:
            return rows[0]
        assert time.monotonic() < deadline, f"rollout still {rows}"
        time.sleep(0.02)


def images(h: Harness) -> list[tuple[str, str, str]]:
    return sorted((c.name, c.info.record.image, c.status) for c in h.engine.observe().project("demo"))


def test_a_draining_replica_is_off_the_port_and_hidden_from_the_pass(tmp_path: Path) -> None:
    h = build(tmp_path)
    up(h, "busybox:1")
    seen: list[dict[str, Any]] = []

    def draining(ip: str, timeout: float, ports: Collection[int]) -> int:  # runs while the old replica drains
        calls = len(h.runtime.calls)
        h.engine.reconcile_all()
        seen.append({"ip": ip, "backends": list(h.network.backends("demo", "web")),
                     "pass_calls": h.runtime.calls[calls:], "running": h.runtime.names("running"),
                     "row": h.engine.rollouts.status("demo")[0]})
        return 0

    h.engine.rollouts.parts = replace(h.engine.rollouts.parts, drained=draining)
    up(h, "busybox:2")
    settled(h, "completed")
    assert len(seen) == 2  # one slot after the other (parallelism 1)
    for slot in seen:
        assert slot["ip"] not in slot["backends"]   # no new connection reaches it
        assert slot["pass_calls"] == []             # the pass neither replaced nor removed it
        assert (slot["row"]["active"], slot["row"]["completed"]) == (True, False)  # what `up --wait` reads
    assert (settled(h, "completed")["active"], settled(h, "completed")["completed"]) == (False, True)
    assert images(h) == [("demo-web-1", "busybox:2", "running"), ("demo-web-2", "busybox:2", "running")]
    assert len(h.network.backends("demo", "web")) == 2
    kinds = [e.kind for e in h.engine.store.events_since(0, "demo", limit=1000)]
    assert kinds.count("container-admitted") == 2 and "update-completed" in kinds


def test_a_new_replica_that_fails_pauses_the_update(tmp_path: Path) -> None:
    h = build(tmp_path)
    up(h, "busybox:1")
    h.runtime.exits["busybox:2"] = 1
    up(h, "busybox:2")
    record = settled(h, "paused")
    assert (record["updated"], record["failed"]) == (0, 1)
    assert (record["active"], record["completed"]) == (False, False)  # over, and a failure for `up --wait`
    assert record["message"].startswith("update paused due to failure: new replica of web failed (exited with code 1")
    # stop-first: the first old replica is gone, its failed replacement left to the restart policy;
    # the second one was never touched and still serves alone.
    assert images(h) == [("demo-web-1", "busybox:2", "exited"), ("demo-web-2", "busybox:1", "running")]
    ip = h.network.addresses[(h.runtime.by_name("demo-web-2").id, "demo_default")]
    assert h.network.backends("demo", "web") == [ip]
    h.engine.reconcile_all()  # paused until the next `up`: a pass starts no runner
    assert h.engine.rollouts.status("demo")[0]["status"] == "paused"


def test_start_first_keeps_the_old_replica_serving_when_the_new_one_fails(tmp_path: Path) -> None:
    h = build(tmp_path)
    up(h, "busybox:1", order="start-first")
    before = sorted(h.network.backends("demo", "web"))
    h.runtime.exits["busybox:2"] = 1
    up(h, "busybox:2", order="start-first")
    settled(h, "paused")
    assert images(h) == [("demo-web-1", "busybox:1", "running"), ("demo-web-2", "busybox:1", "running")]
    assert sorted(h.network.backends("demo", "web")) == before
    assert all(ips == before for ips in (sorted(p["demo/web"]) for p in h.network.history if "demo/web" in p))


def test_a_failed_update_rolls_back_to_the_previous_configuration(tmp_path: Path) -> None:
    h = build(tmp_path)
    up(h, "busybox:1", action="rollback")
    h.runtime.exits["busybox:2"] = 1
    up(h, "busybox:2", action="rollback")
    settled(h, "rollback_started")
    stored = h.engine.store.current_spec("demo")
    assert stored is not None and stored["services"]["web"]["image"] == "busybox:1"  # a new revision
    h.engine.reconcile_all()  # the engine's wake: the next pass rolls the service back
    record = settled(h, "rollback_completed")
    assert record["kind"] == "rollback"
    assert images(h) == [("demo-web-1", "busybox:1", "running"), ("demo-web-2", "busybox:1", "running")]
