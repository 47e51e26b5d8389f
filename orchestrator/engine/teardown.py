"""`down`: a project's containers, published ports and networks removed, in as few kernel round
trips as the result allows.

Order, and why:
1. the desired state goes first (the loop must not bring anything back), then the published ports
   of every service in one nftables transaction: no new connection reaches a replica being stopped;
2. every container is stopped at once (a stop is a signal and a wait on a pidfd);
3. once all their processes are gone, the containers are removed in parallel (cgroups, bundle,
   the shim's record) while, beside them, the networks go: the addresses are released and the
   bridges deleted in one state write and one nftables transaction, and the veths are left to the
   kernel, which deletes them with their namespaces in one batch (`NetworkManager.release_addresses`
   and `await_veths_gone`); `down` returns once they are gone, so nothing is left behind.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING

from orchestrator.engine.executor import network_runtime_name
from orchestrator.engine.netplan import PROJECT_LABEL
from orchestrator.engine.oneoff import oneoff_containers
from orchestrator.engine.ports import port_key
from orchestrator.engine.translate import LABEL_PROJECT, LABEL_SERVICE
from runtime.container.runtime import ContainerInfo
from runtime.errors import RuntimeFailure

if TYPE_CHECKING:
    from orchestrator.engine.engine import Engine
    from orchestrator.spec import Project

log = logging.getLogger("pyorch.engine")


def take_down(engine: Engine, name: str, project: Project | None,
              timeout: float | None) -> tuple[list[ContainerInfo], list[str]]:
    """Remove the project's containers, ports and networks (``project``: its stored definition, None
    when only one-off containers were made); returns (the containers, errors)."""
    engine.store.forget_project(name)  # first: the loop must not bring anything back
    engine.rollouts.forget(name)
    containers = [c for c in engine.runtime.containers() if c.labels.get(LABEL_PROJECT) == name]
    containers += oneoff_containers(engine.runtime, name)  # `run` containers left behind
    if project is not None:
        with engine.executor.network_lock:
            engine.network.unpublish_all([port_key(name, service) for service in project.services])

    pool = engine.executor.pool
    stops = {c.id: pool.submit(_stop, engine, c, timeout) for c in containers}
    errors = [e for e in (f.result() for f in stops.values()) if e]
    stopped = [c for c in containers if stops[c.id].result() is None]
    attachments = [(c.id, network) for c in stopped for network in engine.store.attachments(c.id)]
    removals: list[Future[str | None]] = [pool.submit(_remove, engine, name, c) for c in stopped]
    _remove_networks(engine, name, project, attachments)
    errors += [e for e in (f.result() for f in removals) if e]
    return containers, errors


def _stop(engine: Engine, info: ContainerInfo, timeout: float | None) -> str | None:
    try:
        engine.runtime.stop(info.id, timeout)
        return None
    except RuntimeFailure as exc:
        return f"{info.name}: {exc}"


def _remove(engine: Engine, project: str, info: ContainerInfo) -> str | None:
    """A stopped container's cgroups, bundle and records (its network is `_remove_networks`'s)."""
    try:
        engine.runtime.remove(info.id, force=True)
    except RuntimeFailure as exc:
        return f"{info.name}: {exc}"
    engine.executor.forget_removed(project, info.id, info.name, info.labels.get(LABEL_SERVICE, ""))
    return None


def _remove_networks(engine: Engine, name: str, project: Project | None,
                     attachments: list[tuple[str, str]]) -> None:
    """Addresses of the stopped containers released, the project's own networks removed (external
    ones stay), and the veths gone with their namespaces before this returns."""
    if project is not None:
        doomed = [network_runtime_name(project, key) for key, network in project.networks.items()
                  if not getattr(network, "external", False)]
    else:  # never `up`: only one-off containers made networks, found by their labels
        doomed = [info.name for info in engine.network.list_networks() if info.labels.get(PROJECT_LABEL) == name]
    with engine.executor.network_lock:
        engine.network.release_addresses(attachments)
        engine.network.remove_networks(doomed)
    engine.network.await_veths_gone(attachments)
