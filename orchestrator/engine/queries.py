"""What the engine answers without changing anything: `ps`, `top`, `stats`, `inspect`, `ls`, and
which replica `exec`/`port` mean.

Answered from what the engine keeps (the observed containers, kept from events; the store read
once per table), never by reading every container's files: `ps` of 200 replicas is one pass over
memory and two queries. `stats` reads only the running containers' cgroup counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from orchestrator.engine.labels import Labelled
from orchestrator.engine.observation import Observe
from orchestrator.engine.projects import ProjectLoader
from orchestrator.engine.publishing import Publisher
from orchestrator.engine.store import Refusal, Store
from orchestrator.errors import EngineError
from orchestrator.planner.health import HealthState
from orchestrator.planner.restart_policy import restart_of
from runtime.cgroups import Cgroup
from runtime.container.state import ContainerInfo
from runtime.errors import RuntimeFailure

HealthOf = Callable[[str, float], HealthState | None]


class ContainerReads(Protocol):
    """The runtime's read-only side that queries use."""

    def inspect(self, cid: str) -> ContainerInfo: ...
    def processes(self, cid: str) -> list[dict[str, Any]]: ...
    def cgroup(self, cid: str) -> Cgroup | None: ...


class Queries:
    def __init__(self, store: Store, loader: ProjectLoader, observe: Observe, reads: ContainerReads,
                 publisher: Publisher, health_of: HealthOf) -> None:
        self.store = store
        self.loader = loader
        self.observe = observe
        self.reads = reads
        self.publisher = publisher
        self.health_of = health_of

    def ps(self, name: str, all_containers: bool = True) -> list[dict[str, Any]]:
        """The project's containers; a container whose create or restart its configuration made fail
        (not retried until the next `up`) carries that ``error``, and one never created is a row
        with status ``error`` (with ``all_containers``, as Docker lists a container that never ran)."""
        rows = []
        loaded = self.loader.load(name)
        refused = {r.name: r for r in self.store.refusals(name)}
        attachments = self.store.all_attachments()  # one query, not one per replica
        ports_of: dict[str, list[str]] = {}  # a service's published ports, read once for its replicas
        services = loaded.project.services if loaded is not None else {}
        # whether the engine starts a service's container again when it exits (attached `up` waits for it)
        restarts = {n: restart_of(s).restarts for n, s in services.items()}
        for c in self.observe().project(name):
            info = c.info
            if not all_containers and info.status != "running":
                continue
            if c.service not in ports_of:
                ports_of[c.service] = [] if loaded is None or c.service not in loaded.project.services else [
                    f"{b.host_ip or '0.0.0.0'}:{b.host_port}->{b.container_port}/{b.protocol}"
                    for b in self.publisher.bindings(loaded.project, c.service, allocate=False)]
            # as `docker ps`: a container that is not running (exited, created) publishes nothing
            ports = list(ports_of[c.service]) if info.status in ("running", "paused") else []
            rows.append({
                "id": info.id, "name": info.name, "service": c.service, "number": c.number,
                "image": info.record.image, "status": info.status, "exit_code": info.exit_code,
                "exit_unknown": info.exit_unknown,
                "oom_killed": info.oom_killed, "created_at": info.record.created_at,
                "started_at": info.record.started_at, "finished_at": info.finished_at,
                "restart_count": info.record.restart_count, "pid": info.record.pid,
                "ports": ports, "networks": dict(attachments.get(info.id, {})),
                "health": health_view(self.health_of(info.id, info.record.started_at)),
                "error": refused.pop(info.name).message if info.name in refused else None,
                "restarts_on_exit": restarts.get(c.service, False),
            })
        if all_containers:
            rows += [_refused_row(r, services[r.service].image or "" if r.service in services else "")
                     for r in refused.values() if r.number]
        return sorted(rows, key=lambda r: (r["service"], r["number"]))

    def service_container(self, project: str, service: str, index: int) -> Labelled:
        """The running replica ``index`` of the service (`exec --index`, `port --index`)."""
        candidates = sorted((c for c in self.observe().service(project, service) if c.status == "running"),
                            key=lambda c: c.number)
        numbered = [c for c in candidates if c.number == index]
        if numbered:
            return numbered[0]
        if candidates and index == 1:
            return candidates[0]
        raise EngineError(f"service {service!r} of project {project!r} has no running container #{index}")

    def service_replica(self, project: str, service: str, index: int) -> Labelled:
        """Replica ``index`` of the service, running or not (`cp`, which Compose allows on stopped
        containers too); a running one is preferred when several share the number."""
        numbered = sorted((c for c in self.observe().service(project, service) if c.number == index),
                          key=lambda c: c.status != "running")
        if numbered:
            return numbered[0]
        raise EngineError(f"service {service!r} of project {project!r} has no container #{index}")

    def top(self, project: str, services: list[str]) -> list[dict[str, Any]]:
        result = []
        for c in self.observe().selected(project, services):
            if c.status == "running":
                result.append({"name": c.name, "processes": self.reads.processes(c.id)})
        return sorted(result, key=lambda r: str(r["name"]))

    def stats(self, name: str) -> list[dict[str, Any]]:
        """Raw cgroup counters of running containers, with the time they were read (for rates)."""
        rows = []
        for c in self.observe().project(name):
            if c.status not in ("running", "paused"):
                continue
            cgroup = self.reads.cgroup(c.id)
            if cgroup is None:
                continue
            try:
                st = cgroup.stats()
            except RuntimeFailure:
                continue
            rows.append({"id": c.id, "name": c.name, "service": c.service,
                         "read_at": time.monotonic(), "cpu_usage_ns": st.cpu_usage_ns,
                         "memory_bytes": st.memory_bytes, "memory_limit": st.memory_limit,
                         "pids": st.pids, "pids_limit": st.pids_limit})
        return sorted(rows, key=lambda r: str(r["name"]))

    def list_projects(self) -> list[dict[str, Any]]:
        seen = self.observe()
        return [{"name": n, "revision": self.store.current_revision(n), "containers": len(seen.project(n))}
                for n in self.store.projects()]

    def inspect(self, project: str, ref: str) -> list[dict[str, Any]]:
        """Containers matching a name, an id prefix or a service: the `ps` row plus health log, labels,
        restart policy, persisted restart history and the container's recent events."""
        rows = self.ps(project, all_containers=True)
        chosen = [r for r in rows if ref in (r["name"], r["service"]) or (len(ref) >= 4 and r["id"].startswith(ref))]
        if not chosen:
            raise EngineError(f"no container or service {ref!r} in project {project!r}")
        loaded = self.loader.load(project)
        events = self.store.events_since(0, project, limit=100_000)
        result = []
        for row in chosen:
            try:
                labels = self.reads.inspect(row["id"]).labels
            except RuntimeFailure:
                labels = {}
            service = loaded.project.services.get(row["service"]) if loaded else None
            policy = restart_of(service) if service is not None else None
            result.append({
                **row,
                "labels": labels,
                "restart_policy": None if policy is None else {
                    "restart": policy.docker,
                    "deploy": None if policy.swarm is None else vars(policy.swarm),
                },
                "restart_history": self.store.restart_history(row["id"]),
                "events": [{"ts": e.ts, "kind": e.kind, **e.detail} for e in events
                           if e.subject == row["name"]][-20:],
            })
        return result


def _refused_row(refusal: Refusal, image: str) -> dict[str, Any]:
    """A replica whose create was refused: no container exists, the error says why."""
    return {"id": "", "name": refusal.name, "service": refusal.service, "number": refusal.number, "image": image,
            "status": "error", "exit_code": None, "oom_killed": False, "created_at": None, "started_at": None,
            "finished_at": refusal.ts, "restart_count": 0, "pid": 0, "ports": [], "networks": {}, "health": None,
            "error": refusal.message, "restarts_on_exit": False}


def health_view(state: HealthState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"status": state.status, "failing_streak": state.failing_streak,
            "log": [{"start": r.start, "end": r.end, "exit_code": r.exit_code, "output": r.output}
                    for r in state.log]}
