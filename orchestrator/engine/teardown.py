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
from collections.abc import Callable
from concurrent.futures import Future

from orchestrator.engine.executor import Executor
from orchestrator.engine.labels import LABEL_PROJECT, Labelled
from orchestrator.engine.observation import Observation
from orchestrator.engine.publishing import Publisher
from orchestrator.engine.store import Store
from orchestrator.planner.networks import network_runtime_name
from orchestrator.spec import Project
from runtime.errors import RuntimeFailure
from runtime.network import NetworkInfo

log = logging.getLogger("pyorch.engine")


def take_down(store: Store, executor: Executor, publisher: Publisher, networks: Callable[[], list[NetworkInfo]],
              seen: Observation, name: str, project: Project | None,
              timeout: float | None) -> tuple[list[Labelled], list[str]]:
    """Remove the project's containers, ports and networks (``project``: its stored definition, None
    when only one-off containers were made); returns (the containers, errors). The caller has
    forgotten the project's desired state first, so the loop brings nothing back."""
    containers = seen.project(name) + seen.oneoffs(name)  # with the `run` containers left behind
    if project is not None:
        publisher.unpublish(name, project.services)

    pool = executor.pool
    stops = {c.id: pool.submit(_stop, executor, c, timeout) for c in containers}
    errors = [e for e in (f.result() for f in stops.values()) if e]
    stopped = [c for c in containers if stops[c.id].result() is None]
    attachments = [(c.id, network) for c in stopped for network in store.attachments(c.id)]
    removals: list[Future[str | None]] = [pool.submit(_remove, executor, name, c) for c in stopped]
    executor.remove_networks(attachments, _doomed_networks(networks, name, project))
    errors += [e for e in (f.result() for f in removals) if e]
    executor.purge_logs(name)  # the kept logs of containers removed before go with the project
    return containers, errors


def _stop(executor: Executor, c: Labelled, timeout: float | None) -> str | None:
    try:
        executor.stop(c.id, timeout)
        return None
    except RuntimeFailure as exc:
        return f"{c.name}: {exc}"


def _remove(executor: Executor, project: str, c: Labelled) -> str | None:
    """A stopped container's cgroups, bundle and records (its network goes with the networks)."""
    try:
        executor.discard_stopped(project, c.id, c.name, c.service)
    except RuntimeFailure as exc:
        return f"{c.name}: {exc}"
    return None


def _doomed_networks(networks: Callable[[], list[NetworkInfo]], name: str, project: Project | None) -> list[str]:
    """The project's own networks (external ones stay)."""
    if project is not None:
        return [network_runtime_name(project, key) for key, network in project.networks.items()
                if not getattr(network, "external", False)]
    # never `up`: only one-off containers made networks, found by their labels
    return [info.name for info in networks() if info.labels.get(LABEL_PROJECT) == name]
