"""Health-driven restarts: a container that turns unhealthy and has a restart policy is restarted
(Swarm does this; plain Docker and Compose never do, moby/moby#28400).

New connections stop going to it before it is stopped, as in a rollout; the next pass restarts it
through its restart policy.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.engine.labels import Labelled
from orchestrator.engine.projects import ProjectLoader
from orchestrator.engine.publishing import Publisher
from orchestrator.engine.store import Store
from orchestrator.planner.health import HealthState
from orchestrator.planner.restart_policy import restart_of
from runtime.container.state import ContainerInfo
from runtime.errors import RuntimeFailure

Inspect = Callable[[str], ContainerInfo]
Stop = Callable[[str], None]


class UnhealthyRestarts:
    def __init__(self, store: Store, loader: ProjectLoader, inspect: Inspect, publisher: Publisher, stop: Stop,
                 wake: Callable[[str], None]) -> None:
        self.store = store
        self.loader = loader
        self.inspect = inspect
        self.publisher = publisher
        self.stop = stop
        self.wake = wake

    def on_change(self, cid: str, old: HealthState, new: HealthState) -> None:
        """Record the transition; restart an unhealthy container whose service restarts."""
        try:
            c = Labelled.of(self.inspect(cid))
        except RuntimeFailure:
            return
        self.store.record_event(c.project, "health_status", c.name, id=cid, status=new.status,
                                failing_streak=new.failing_streak)
        loaded = self.loader.load(c.project)
        if new.status == "unhealthy" and loaded is not None:
            service = loaded.project.services.get(c.service)
            if service is not None and restart_of(service).restarts:
                self.store.record_event(c.project, "container-unhealthy-restart", c.name, id=cid)
                with self.publisher.leaving(loaded.project, cid):
                    self.stop(cid)
                self.wake(c.project)
        self.wake(c.project)
