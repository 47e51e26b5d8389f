"""`depends_on` conditions as the engine applies them, over the in-memory runtime: what `up` waits
for, what fails it, and what the background pass does instead of waiting."""

from __future__ import annotations

from pathlib import Path

from orchestrator.engine.dependencies import dependency_state
from orchestrator.engine.project_ops import UpOptions
from orchestrator.planner.health import HealthState
from tests.unit.engine.fakes import Harness, build

ONE_SHOT = """
name: demo
services:
  migrate:
    image: busybox
  web:
    image: busybox
    depends_on:
      migrate: {condition: service_completed_successfully}
"""

HEALTHY = """
name: demo
services:
  db:
    image: busybox
    healthcheck: {test: ["CMD", "check"], interval: 1s, retries: 2}
  web:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
"""


def probing(h: Harness) -> list[int]:
    """`up`'s waits run the due health probes instead of sleeping; returns how many ran per wait."""
    ran: list[int] = []
    h.engine.reconciler.gate.sleep = lambda seconds: ran.append(h.scheduler.run_probes())
    return ran


def test_a_one_shot_that_succeeds_lets_its_dependents_start(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.exits["migrate"] = 0
    result = h.engine.ops.up(h.project(ONE_SHOT), UpOptions())
    assert result["errors"] == []
    assert h.runtime.names("running") == ["demo-web-1"]
    assert h.runtime.names("exited") == ["demo-migrate-1"]


def test_a_one_shot_that_fails_holds_its_dependents_back(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.exits["migrate"] = 3
    result = h.engine.ops.up(h.project(ONE_SHOT), UpOptions())
    assert result["errors"] == ["dependency failed to start: service 'migrate' exited with code 3 (needed by 'web')"]
    assert h.runtime.names() == ["demo-migrate-1"]


def test_up_waits_until_the_dependency_is_healthy(tmp_path: Path) -> None:
    h = build(tmp_path)
    ran = probing(h)
    result = h.engine.ops.up(h.project(HEALTHY), UpOptions())
    assert result["errors"] == []
    assert ran and ran[0] == 1  # web waited for db's first probe, and only for that
    assert h.runtime.names("running") == ["demo-db-1", "demo-web-1"]
    db = next(r for r in result["containers"] if r["service"] == "db")
    assert db["health"]["status"] == "healthy"


def test_an_unhealthy_dependency_fails_up_and_its_dependent_is_not_made(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.probe_codes["db"] = 1
    ran = probing(h)
    result = h.engine.ops.up(h.project(HEALTHY), UpOptions())
    assert result["errors"] == ["dependency failed to start: service 'db' is unhealthy (needed by 'web')"]
    assert ran == [1, 1]  # retries: 2
    assert h.runtime.names() == ["demo-db-1"]


def test_the_background_pass_does_not_wait_and_starts_the_dependent_once_it_may(tmp_path: Path) -> None:
    h = build(tmp_path)
    spec = h.project(HEALTHY)
    h.engine.store.save_revision("demo", str(tmp_path), spec)  # stored, as after an engine restart
    h.engine.reconcile_all()
    assert h.runtime.names() == ["demo-db-1"]  # db is still starting: web waits for a later pass
    h.scheduler.run_probes()
    h.engine.reconcile_all()
    assert h.runtime.names("running") == ["demo-db-1", "demo-web-1"]


def test_a_dependency_without_a_healthcheck_cannot_become_healthy(tmp_path: Path) -> None:
    h = build(tmp_path)
    text = HEALTHY.replace('    healthcheck: {test: ["CMD", "check"], interval: 1s, retries: 2}\n', "")
    result = h.engine.ops.up(h.project(text), UpOptions())
    assert result["errors"] == ["dependency failed to start: service 'db' has no healthcheck (needed by 'web')"]


def test_the_states_of_a_dependency(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.exits["migrate"] = 0
    h.engine.ops.up(h.project(ONE_SHOT), UpOptions())
    seen = h.engine.observe()
    migrate, web = seen.service("demo", "migrate"), seen.service("demo", "web")

    def unknown(cid: str, started_at: float) -> HealthState | None:
        return None

    assert dependency_state(migrate, "service_completed_successfully", unknown) == ("ok", "")
    assert dependency_state(web, "service_completed_successfully", unknown) == ("waiting", "has not completed")
    assert dependency_state(web, "service_started", unknown) == ("ok", "")
    assert dependency_state([], "service_healthy", unknown) == ("waiting", "has no container yet")
    assert dependency_state(migrate, "service_healthy", unknown) == ("failed", "exited with code 0")
    assert dependency_state(web, "service_healthy", lambda c, s: HealthState("starting")) == ("waiting", "is starting")
    assert dependency_state(web, "service_healthy", lambda c, s: HealthState("healthy")) == ("ok", "")
