"""Which names resolve to which addresses, per network: pure, from what the engine observes."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator

from orchestrator.engine.labels import Labelled
from orchestrator.engine.projects import Loaded
from orchestrator.planner.networks import ServiceNetwork, service_networks
from orchestrator.spec import Service

ProjectOf = Callable[[str], Loaded | None]
AttachmentsOf = Callable[[str], dict[str, str]]


def _attached(containers: list[Labelled], project_of: ProjectOf, attachments_of: AttachmentsOf,
              ) -> Iterator[tuple[Labelled, Service, list[tuple[ServiceNetwork, str]]]]:
    """Each running container of a known service, with its (network, address) pairs in the
    service's network order."""
    # A service's networks are the same for each of its replicas: worked out once per rebuild
    # (an `up` of N replicas rebuilds about N times, each over every container).
    known: dict[tuple[str, str], tuple[Service, list[ServiceNetwork]] | None] = {}
    for c in containers:
        if c.status != "running" or not c.project:
            continue
        key = (c.project, c.service)
        if key not in known:
            loaded = project_of(c.project)
            service = loaded.project.services.get(c.service) if loaded else None
            known[key] = None if loaded is None or service is None else \
                (service, service_networks(loaded.project, service))
        entry = known[key]
        if entry is None:
            continue
        service, nets = entry
        addresses = attachments_of(c.id)
        yield c, service, [(net, addresses[net.runtime_name]) for net in nets if addresses.get(net.runtime_name)]


def dns_tables(containers: list[Labelled], project_of: ProjectOf, attachments_of: AttachmentsOf,
               hidden: Collection[str] = frozenset()) -> dict[str, dict[str, list[str]]]:
    """network -> name -> addresses, for running containers: service name (every replica),
    container name, and the service's aliases on that network, as Docker's embedded DNS does.
    ``hidden`` containers (ids, or names of ones still being created) are left out: not admitted
    yet, draining, being stopped."""
    tables: dict[str, dict[str, list[str]]] = {}
    for c, service, pairs in _attached(containers, project_of, attachments_of):
        if c.id in hidden or c.name in hidden:
            continue
        for net, ip in pairs:
            table = tables.setdefault(net.runtime_name, {})
            for name in {service.name, c.name, *net.aliases}:
                table.setdefault(name.lower(), []).append(ip)
    return tables


def dns_views(containers: list[Labelled], project_of: ProjectOf, attachments_of: AttachmentsOf,
              ) -> dict[str, list[str]]:
    """container address -> the networks whose names it sees, in the service's network order."""
    views: dict[str, list[str]] = {}
    for _, _, pairs in _attached(containers, project_of, attachments_of):
        order = [net.runtime_name for net, _ in pairs]
        for _, ip in pairs:
            views[ip] = order
    return views


def container_dns(container: Labelled, project_of: ProjectOf, attachments_of: AttachmentsOf,
                  hidden: Collection[str] = frozenset(),
                  ) -> tuple[dict[str, dict[str, list[str]]], dict[str, list[str]]]:
    """The tables and views one container adds to the others': exactly its share of
    `dns_tables` and `dns_views` over every container (a start adds it without a rebuild)."""
    return (dns_tables([container], project_of, attachments_of, hidden),
            dns_views([container], project_of, attachments_of))
