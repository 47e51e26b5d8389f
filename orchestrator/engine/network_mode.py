"""`network_mode` in engine terms: `service:NAME` and `container:NAME` become the runtime's
`container:<id>` of a running container, and `service:NAME` orders NAME first (as Compose does)."""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.engine.labels import Labelled
from orchestrator.errors import EngineError
from orchestrator.spec import Project, Service
from runtime.container.state import ContainerInfo


def runtime_network_mode(project: Project, service: Service, containers: Callable[[], list[ContainerInfo]]) -> str:
    """The runtime's mode for the service's next container; raises while a joined one is not running.

    ``containers`` is called only for `service:`/`container:` modes (it reads every bundle)."""
    mode = service.network_mode or ""
    if mode in ("", "host", "none"):
        return mode
    kind, _, target = mode.partition(":")
    running = [Labelled.of(c) for c in containers() if c.status == "running"]
    if kind == "service":
        replicas = sorted((c for c in running if c.project == project.name and c.service == target),
                          key=lambda c: c.number)
        if not replicas:
            raise EngineError(f"service {service.name!r}: network_mode {mode}: service {target!r} has no "
                              "running container")
        return f"container:{replicas[0].id}"
    if kind == "container":
        match = [c for c in running if target in (c.name, c.id) or (len(target) >= 12 and c.id.startswith(target))]
        if not match:
            raise EngineError(f"service {service.name!r}: network_mode {mode}: no running container {target!r}")
        return f"container:{match[0].id}"
    raise EngineError(f"service {service.name!r}: network_mode {mode!r} is not supported")


def namespace_parent(project: Project, service: Service, replicas: list[Labelled]) -> str | None:
    """The project's service whose container this service's containers join: X of `service:X`, or
    the service of the project's container named by `container:NAME` (``replicas``: the project's)."""
    kind, _, target = (service.network_mode or "").partition(":")
    if kind == "service":
        return target
    if kind == "container":
        return next((c.service for c in replicas if target in (c.name, c.id)), None)
    return None


def dependencies(service: Service) -> tuple[str, ...]:
    """depends_on, plus the service whose network namespace `service:NAME` joins."""
    deps = list(service.depends_on or {})
    mode = service.network_mode or ""
    if mode.startswith("service:") and mode[len("service:"):] not in deps:
        deps.append(mode[len("service:"):])
    return tuple(deps)
