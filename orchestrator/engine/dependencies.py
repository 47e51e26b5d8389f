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
from orchestrator.planner.model import Action
from orchestrator.spec import Project

POLL_S = 0.5
HealthOf = Callable[[str, float], HealthState | None]
SyncHealth = Callable[[Project, Observation], None]


def dependency_state(replicas: list[Labelled], condition: str, health_of: HealthOf) -> tuple[str, str]:
    """("ok" | "waiting" | "failed", why) for one dependency's replicas under ``condition``."""
    if condition == "service_started":
        return "ok", ""
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


class DependencyGate:
    def __init__(self, observe: Observe, health_of: HealthOf, sync_health: SyncHealth,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.observe = observe
        self.health_of = health_of
        self.sync_health = sync_health
        self.sleep = sleep

    def wait(self, project: Project, wave: list[Action], deadline: float) -> str | None:
        """None when the wave may start; else why not (a failed dependency, or the deadline)."""
        services = {getattr(a, "service", "") for a in wave}
        needed = any(project.services[n].depends_on for n in services if n in project.services)
        while needed:
            seen = self.observe()
            self.sync_health(project, seen)  # dependencies created by an earlier wave get their monitors now
            pending: list[str] = []
            for name in sorted(services):
                for dep, cond in (project.services[name].depends_on or {}).items():
                    if dep not in project.services:
                        continue
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
