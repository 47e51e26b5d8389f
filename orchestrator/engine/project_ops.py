"""`scale`, `rm` and `inspect`: project verbs that change or explain the stored desired state.

The loop converges whatever is stored, so `rm` writes what it removed into a new revision (the
service wants that many fewer replicas until the next `up`); otherwise the next pass would
simply create the removed containers again.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from orchestrator.engine.restart_policy import restart_of
from orchestrator.engine.selection import with_scale
from orchestrator.engine.translate import LABEL_NUMBER, LABEL_PROJECT, LABEL_SERVICE
from orchestrator.errors import EngineError
from runtime.errors import RuntimeFailure

if TYPE_CHECKING:
    from orchestrator.engine.engine import Engine, UpOptions


def _stored(engine: Engine, project: str) -> dict[str, Any]:
    spec = engine.store.current_spec(project)
    if spec is None:
        raise EngineError(f"project {project!r} is not up (run `pyorch up` first)")
    return spec


def scale(engine: Engine, project: str, replicas: dict[str, int], options: UpOptions) -> dict[str, Any]:
    """`scale SVC=N`: a new revision with other replica counts, converged like `up`."""
    return engine.up(with_scale(_stored(engine, project), replicas), options)


def remove_stopped(engine: Engine, project: str, services: list[str], stop_first: bool,
                   timeout: float | None, volumes: bool) -> dict[str, Any]:
    """`rm [-s] [-v]`: remove stopped containers of the services; running ones stay unless ``stop_first``."""
    spec = _stored(engine, project)
    unknown = sorted(set(services) - set(spec.get("services") or {}))
    if unknown:
        raise EngineError(f"no such service: {', '.join(unknown)}")
    removed: list[str] = []
    anonymous: list[str] = []
    with engine._lock(project):
        mine = [c for c in engine.runtime.containers() if c.labels.get(LABEL_PROJECT) == project
                and (not services or c.labels.get(LABEL_SERVICE) in services)]
        if stop_first:
            for c in mine:
                if c.status in ("running", "paused"):
                    engine.store.set_container_flags(c.id, project, True, 0.0)  # no restart meanwhile
            list(engine.executor.pool.map(lambda c: engine.runtime.stop(c.id, timeout), mine))
            mine = [engine.runtime.inspect(c.id) for c in mine]
        gone: dict[str, int] = {}
        for c in mine:
            if c.status not in ("exited", "created"):
                continue
            service = c.labels.get(LABEL_SERVICE, "")
            engine.executor.remove_container(project, c.id, service)
            removed.append(c.name)
            gone[service] = gone.get(service, 0) + 1
            if volumes:
                anonymous += _remove_anonymous_volumes(engine, project, service, c.labels.get(LABEL_NUMBER, ""))
        if gone:
            left = {s: max(0, _replicas(spec, s) - n) for s, n in gone.items() if s in spec["services"]}
            revision = engine.store.save_revision(project, str(spec.get("working_dir", "")), with_scale(spec, left))
            engine.store.record_event(project, "revision", project, revision=revision, reason="rm")
    engine.wake()
    return {"removed": removed, "volumes": sorted(anonymous)}


def _replicas(spec: dict[str, Any], service: str) -> int:
    svc = spec["services"][service]
    deploy = svc.get("deploy") or {}
    if deploy.get("replicas") is not None:
        return int(deploy["replicas"])
    return int(svc["scale"]) if svc.get("scale") is not None else 1


def _remove_anonymous_volumes(engine: Engine, project: str, service: str, number: str) -> list[str]:
    root = engine.layout.volumes_dir
    prefix = f"{project}_{service}_{number}_anon_"
    removed = []
    if root.exists():
        for path in root.iterdir():
            if path.name.startswith(prefix):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    return removed


def inspect(engine: Engine, project: str, ref: str) -> list[dict[str, Any]]:
    """Containers matching a name, an id prefix or a service: the `ps` row plus health log, labels,
    restart policy, persisted restart history and the container's recent events."""
    rows = engine.ps(project, all_containers=True)
    chosen = [r for r in rows if ref in (r["name"], r["service"]) or (len(ref) >= 4 and r["id"].startswith(ref))]
    if not chosen:
        raise EngineError(f"no container or service {ref!r} in project {project!r}")
    loaded = engine.project(project)
    events = engine.store.events_since(0, project, limit=100_000)
    result = []
    for row in chosen:
        try:
            labels = engine.runtime.inspect(row["id"]).labels
        except RuntimeFailure:
            labels = {}
        service = loaded[0].services.get(row["service"]) if loaded else None
        policy = restart_of(service) if service is not None else None
        result.append({
            **row,
            "labels": labels,
            "restart_policy": None if policy is None else {
                "restart": policy.docker,
                "deploy": None if policy.swarm is None else vars(policy.swarm),
            },
            "restart_history": engine.store.restart_history(row["id"]),
            "events": [{"ts": e.ts, "kind": e.kind, **e.detail} for e in events if e.subject == row["name"]][-20:],
        })
    return result
