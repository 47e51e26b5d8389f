"""Compose networks → runtime network specs, and the checks that must pass before `up` changes
anything (unsupported drivers and modes, missing external networks, addresses without a subnet)."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.engine.labels import LABEL_PROJECT
from orchestrator.errors import EngineError
from orchestrator.planner.networks import network_runtime_name, service_networks
from orchestrator.spec import Project
from orchestrator.spec.model import IpamPool, Network
from orchestrator.spec.network_checks import DRIVER_MTU, ENABLE_ICC, bridge_options
from runtime.network import NetworkInfo, NetworkSpec

SUPPORTED_DRIVERS = (None, "bridge")
SUPPORTED_DRIVER_OPTS = (ENABLE_ICC, DRIVER_MTU)
JOINING_MODES = ("service:", "container:")


def first_pool(network: Network) -> IpamPool | None:
    """The IPv4 pool of a network (`ipam.config[0]`), if any."""
    configs = network.ipam.config if network.ipam is not None else None
    return configs[0] if configs else None



def network_specs(project: Project) -> list[NetworkSpec]:
    """The project's own networks that some service uses (external ones already exist)."""
    used = {n.runtime_name for svc in project.services.values() for n in service_networks(project, svc)}
    specs = []
    for key, network in sorted(project.networks.items()):
        name = network_runtime_name(project, key)
        if name not in used or network.external:
            continue
        pool = first_pool(network)
        options = bridge_options(network.driver_opts)
        specs.append(NetworkSpec(
            name=name,
            subnet=pool.subnet if pool is not None else None,
            gateway=pool.gateway if pool is not None else None,
            ip_range=pool.ip_range if pool is not None else None,
            internal=bool(network.internal),
            icc=options.icc,
            mtu=options.mtu,
            # Compose's labels: `down` finds the project's networks by them even when the project
            # was never stored (only `run` used it).
            labels={**{str(k): str(v) for k, v in (network.labels or {}).items()},
                    LABEL_PROJECT: project.name, "com.docker.compose.network": key},
        ))
    return specs


def check_networks(project: Project, existing: Iterable[NetworkInfo]) -> None:
    """Refuse what pyorch cannot do, before anything is created."""
    known = {n.name for n in existing}
    used = {n.runtime_name for svc in project.services.values() for n in service_networks(project, svc)}
    for key, network in sorted(project.networks.items()):
        name = network_runtime_name(project, key)
        if network.driver not in SUPPORTED_DRIVERS:
            raise EngineError(f"network {key!r}: driver {network.driver!r} is not supported (only bridge)")
        if network.ipam is not None and len(network.ipam.config or []) > 1:
            raise EngineError(f"network {key!r}: only one ipam.config entry is supported (IPv4)")
        unknown = sorted(set(network.driver_opts or {}) - set(SUPPORTED_DRIVER_OPTS))
        if unknown and not network.external:
            raise EngineError(f"network {key!r}: driver_opts {', '.join(unknown)} not supported "
                              f"(pyorch applies {', '.join(SUPPORTED_DRIVER_OPTS)})")
        if network.external and name in used and name not in known:
            raise EngineError(f"network {name} declared as external, but could not be found")
    for service in project.services.values():
        _check_service(project, service.name)


def _check_service(project: Project, name: str) -> None:
    service = project.services[name]
    mode = service.network_mode
    if mode is not None and mode not in ("host", "none") and not mode.startswith(JOINING_MODES):
        raise EngineError(f"service {name!r}: network_mode {mode!r} is not supported "
                          "(host, none, service:NAME or container:NAME)")
    if mode and mode.startswith(JOINING_MODES) and service.ports:
        raise EngineError(f"service {name!r}: ports cannot be published with network_mode {mode!r} "
                          "(publish them on the service whose network it joins)")
    for key, cfg in (service.networks or {}).items():
        if cfg is None or not cfg.ipv4_address:
            continue
        network = project.networks.get(key)
        pool = first_pool(network) if network is not None else None
        if (pool is None or not pool.subnet) and not (network is not None and network.external):
            raise EngineError(f"service {name!r}: ipv4_address {cfg.ipv4_address} on network {key!r} needs "
                              "a subnet in the network's ipam.config")

