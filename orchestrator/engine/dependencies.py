"""`depends_on` conditions: whether a wave of the plan may start (Compose's waitDependencies).

`up` waits (polling every 0.5 s, like Compose) until a deadline; the background pass does not wait
at all and simply tries again on its next pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from orchestrator.engine.labels import Labelled
from orchestrator.engine.observation import Observation, Observe
from orchestrator.planner.health import HealthState
from orchestrator.planner.model import Action, StopContainer
from orchestrator.spec import DependsOn, Project, Service

POLL_S = 0.5
RUNNING_OR_HEALTHY = "running_or_healthy"  # Compose's condition for `up --wait`
HealthOf = Callable[[str, float], HealthState | None]
SyncHealth = Callable[[Project, Observation], None]


def dependency_state(replicas: list[Labelled], condition: str, health_of: HealthOf) -> tuple[str, str]:
    """("ok" | "waiting" | "failed", why) for one dependency's replicas under ``condition``."""
    if condition == "service_started":
        return "ok", ""
    if condition == RUNNING_OR_HEALTHY:
        return _running_or_healthy(replicas, health_of)
    if condition == "service_completed_successfully":
        exited = [c for c in replicas if c.status == "exited"]
        if not exited:
            return "waiting", "has not completed"
        code = exited[0].info.exit_code
        return ("ok", "") if code == 0 else ("failed", f"exited with code {code}")
    # service_healthy: every replica healthy; an exit, unhealthy or no healthcheck fails
    if not replicas:
        return "waiting", "has no container yet"
    for c in replicas:
        if c.status == "exited":
            return "failed", f"exited with code {c.info.exit_code}"
        state = health_of(c.id, c.started_at)
        if state is None and c.status == "running":
            return "failed", "has no healthcheck"
        if state is None or state.status == "starting":
            return "waiting", "is starting"
        if state.status == "unhealthy":
            return "failed", "is unhealthy"
    return "ok", ""


def _running_or_healthy(replicas: list[Labelled], health_of: HealthOf) -> tuple[str, str]:
    """Compose's isServiceHealthy with the fallback to running: healthy where there is a
    healthcheck, running where there is none; an exit or unhealthy fails."""
    if not replicas:
        return "waiting", "has no container yet"
    for c in sorted(replicas, key=lambda r: r.number):
        if c.status == "exited":
            return "failed", f"container {c.name} exited ({c.info.exit_code})"
        if c.status != "running":
            return "waiting", f"container {c.name} is {c.status}"
        state = health_of(c.id, c.started_at)
        if state is None or state.status == "healthy":
            continue
        if state.status == "unhealthy":
            return "failed", f"container {c.name} is unhealthy"
        return "waiting", f"container {c.name} is {state.status}"
    return "ok", ""


def restart_dependencies(service: Service) -> tuple[str, ...]:
    """The dependencies the service is restarted with (`depends_on: {X: {restart: true}}`)."""
    return tuple(dep for dep, cond in (service.depends_on or {}).items() if cond.restart)


def wait_condition(project: Project, service: str) -> str:
    """What `up --wait` waits for (Compose's getDependencyCondition): completion, when another
    service depends on this one with `service_completed_successfully` (a migration); else running,
    and healthy where there is a healthcheck."""
    for other in project.services.values():
        cond = (other.depends_on or {}).get(service)
        if cond is not None and cond.condition == "service_completed_successfully":
            return "service_completed_successfully"
    return RUNNING_OR_HEALTHY


class DependencyGate:
    def __init__(self, observe: Observe, health_of: HealthOf, sync_health: SyncHealth,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.observe = observe
        self.health_of = health_of
        self.sync_health = sync_health
        self.sleep = sleep

    def wait(self, project: Project, wave: list[Action], deadline: float) -> str | None:
        """None when the wave may start; else why not (a failed dependency, or the deadline).
        A wave that only stops containers waits for nothing."""
        return self.wait_for(project, {a.service for a in wave if not isinstance(a, StopContainer)}, deadline)

    def states(self, project: Project, conditions: dict[str, str]) -> dict[str, tuple[str, str]]:
        """Per service, ("ok" | "waiting" | "failed", why) under its condition, from one observation."""
        seen = self.observe()
        self.sync_health(project, seen)
        return {name: dependency_state(seen.service(project.name, name), condition, self.health_of)
                for name, condition in conditions.items()}

    def wait_for(self, project: Project, services: set[str], deadline: float, restart_only: bool = False) -> str | None:
        """Wait until the dependencies of ``services`` meet their conditions (``restart_only``: only
        those with `restart: true`, as Compose's `restart` does); None, or why they did not."""
        def edges(name: str) -> list[tuple[str, DependsOn]]:
            return [(dep, cond) for dep, cond in (project.services[name].depends_on or {}).items()
                    if dep in project.services and (cond.restart or not restart_only)]

        services = {n for n in services if n in project.services}
        needed = any(edges(n) for n in services)
        while needed:
            seen = self.observe()
            self.sync_health(project, seen)  # dependencies created by an earlier wave get their monitors now
            pending: list[str] = []
            for name in sorted(services):
                for dep, cond in edges(name):
                    state, detail = dependency_state(seen.service(project.name, dep), cond.condition,
                                                     self.health_of)
                    if state == "failed" and cond.required:
                        return f"dependency failed to start: service {dep!r} {detail} (needed by {name!r})"
                    if state == "waiting":
                        pending.append(f"{dep} ({detail})")
            if not pending:
                return None
            if time.monotonic() >= deadline:
                return "waiting for dependencies: " + ", ".join(pending)
            self.sleep(POLL_S)
        return None
