"""Which networks a service's containers join, under which runtime names (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.spec import Project, Service


@dataclass(frozen=True)
class ServiceNetwork:
    """One network a service's containers join, resolved to the runtime network name."""

    runtime_name: str
    aliases: tuple[str, ...]
    ipv4_address: str | None


def network_runtime_name(project: Project, key: str) -> str:
    network = project.networks.get(key)
    explicit = getattr(network, "name", None) if network is not None else None
    return str(explicit) if explicit else f"{project.name}_{key}"


def service_networks(project: Project, service: Service) -> list[ServiceNetwork]:
    """The service's networks, highest `priority` first (the first one carries the default route)."""
    if service.network_mode:
        return []
    wanted = service.networks or {"default": None}
    result = []
    for key, cfg in sorted(wanted.items(), key=lambda kv: (-(getattr(kv[1], "priority", 0) or 0), kv[0])):
        aliases = tuple(getattr(cfg, "aliases", None) or ()) if cfg is not None else ()
        address = getattr(cfg, "ipv4_address", None) if cfg is not None else None
        result.append(ServiceNetwork(network_runtime_name(project, key), aliases, address))
    return result
