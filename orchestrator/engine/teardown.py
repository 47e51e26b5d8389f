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

Crash consistency: `down` first writes its intent (`Store.begin_teardown`, in the same
transaction that forgets the project) and clears it only when everything is gone. A `down` cut
short, by an error or by the engine's death, is finished by the next reconcile pass (`resume`),
which runs the same idempotent steps again on what it observes then; an `up` of the project in
between cancels the teardown instead (the project is desired again).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.engine.executor import Executor
from orchestrator.engine.labels import LABEL_PROJECT, Labelled
from orchestrator.engine.observation import Observation, Observe
from orchestrator.engine.projects import ProjectLoader, ProjectLocks
from orchestrator.engine.publishing import Publisher
from orchestrator.engine.store import Store, Teardown
from orchestrator.engine.volume_mounts import volume_runtime_name
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
    # with the `run` containers left behind, and what a create or removal cut short left
    containers = seen.project(name) + seen.oneoffs(name) + seen.dead_of(name)
    if project is not None:
        publisher.unpublish(name, project.services)

    pool = executor.pool
    stops = {c.id: pool.submit(_stop, executor, c, timeout) for c in containers}
    errors = [e for e in (f.result() for f in stops.values()) if e]
    stopped = [c for c in containers if stops[c.id].result() is None]
    attachments = executor.attachments_of(*(c.id for c in stopped))
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


@dataclass(frozen=True)
class TeardownParts:
    """What `down` works with; `engine.py` wires them."""

    store: Store
    loader: ProjectLoader
    locks: ProjectLocks
    executor: Executor
    publisher: Publisher
    networks: Callable[[], list[NetworkInfo]]
    observe: Observe
    forget_rollouts: Callable[[str], None]
    volumes_dir: Path


class Teardowns:
    """`down`, and the `down`s a crash or an error cut short, finished by the next pass."""

    def __init__(self, parts: TeardownParts) -> None:
        self.parts = parts

    def down(self, name: str, timeout: float | None, remove_volumes: bool = False) -> dict[str, Any]:
        p = self.parts
        with p.locks(name):
            loaded = p.loader.load(name)
            teardown = Teardown(name, loaded.revision if loaded else None, remove_volumes, time.time())
            p.store.begin_teardown(teardown)  # first: the loop must not bring anything back
            return self._finish(teardown, timeout)

    def resume(self) -> None:
        """Finish every `down` left owed (a project whose lock is held is being worked on: skipped)."""
        for teardown in self.parts.store.teardowns():
            lock = self.parts.locks(teardown.project)
            if not lock.acquire(blocking=False):
                continue
            try:
                result = self._finish(teardown, None)
                log.info("finished the down of %s that was cut short: %d removed%s", teardown.project,
                         len(result["removed"]), "; " + "; ".join(result["errors"]) if result["errors"] else "")
            except Exception:
                log.exception("finish the down of %s", teardown.project)
            finally:
                lock.release()

    def _finish(self, teardown: Teardown, timeout: float | None) -> dict[str, Any]:
        p = self.parts
        name = teardown.project
        project = self._project_at(teardown)
        p.forget_rollouts(name)
        containers, errors = take_down(p.store, p.executor, p.publisher, p.networks, p.observe(), name, project,
                                       timeout)
        volumes = _remove_volumes(p.volumes_dir, name, project) if teardown.remove_volumes else []
        p.publisher.sync_dns()
        if not errors:
            p.store.end_teardown(name)  # last: anything left, the next pass takes it down
        p.store.record_event(name, "down", name, removed=len(containers))
        return {"project": name, "removed": [c.name for c in containers], "volumes": volumes, "errors": errors}

    def _project_at(self, teardown: Teardown) -> Project | None:
        """The project as it was when its `down` began (its networks and published ports)."""
        if teardown.revision is None:
            return None
        spec = self.parts.store.spec_at(teardown.project, teardown.revision)
        try:
            return Project.model_validate(spec) if spec is not None else None
        except ValueError:
            return None


def _remove_volumes(root: Path, name: str, project: Project | None) -> list[str]:
    """`down -v`: the project's named volumes (not external ones) and its anonymous volumes."""
    names = set() if project is None else {
        volume_runtime_name(project, key) for key, v in project.volumes.items() if not v.external}
    removed = []
    if root.exists():
        for path in root.iterdir():
            if path.name in names or (path.name.startswith(f"{name}_") and "_anon_" in path.name):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    return sorted(removed)
