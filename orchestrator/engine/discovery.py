"""Which names resolve to which addresses, per network: pure, from what the engine observes."""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.engine.executor import service_networks
from orchestrator.engine.translate import LABEL_PROJECT, LABEL_SERVICE
from orchestrator.spec import Project
from runtime.container.state import ContainerInfo


def dns_tables(
    containers: list[ContainerInfo],
    project_of: Callable[[str], tuple[Project, int] | None],
    attachments_of: Callable[[str], dict[str, str]],
) -> dict[str, dict[str, list[str]]]:
    """network -> name -> addresses, for running containers: service name (every replica),
    container name, and the service's aliases on that network, as Docker's embedded DNS does."""
    tables: dict[str, dict[str, list[str]]] = {}
    for c in containers:
        if c.status != "running":
            continue
        loaded = project_of(c.labels.get(LABEL_PROJECT, ""))
        service = loaded[0].services.get(c.labels.get(LABEL_SERVICE, "")) if loaded else None
        if loaded is None or service is None:
            continue
        addresses = attachments_of(c.id)
        for net in service_networks(loaded[0], service):
            ip = addresses.get(net.runtime_name)
            if not ip:
                continue
            table = tables.setdefault(net.runtime_name, {})
            for name in {service.name, c.name, *net.aliases}:
                table.setdefault(name.lower(), []).append(ip)
    return tables


def dns_views(
    containers: list[ContainerInfo],
    project_of: Callable[[str], tuple[Project, int] | None],
    attachments_of: Callable[[str], dict[str, str]],
) -> dict[str, list[str]]:
    """container address -> the networks whose names it sees, in the service's network order."""
    views: dict[str, list[str]] = {}
    for c in containers:
        if c.status != "running":
            continue
        loaded = project_of(c.labels.get(LABEL_PROJECT, ""))
        service = loaded[0].services.get(c.labels.get(LABEL_SERVICE, "")) if loaded else None
        if loaded is None or service is None:
            continue
        addresses = attachments_of(c.id)
        order = [n.runtime_name for n in service_networks(loaded[0], service) if n.runtime_name in addresses]
        for name in order:
            views[addresses[name]] = order
    return views
