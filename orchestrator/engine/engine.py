"""The engine: keeps every stored project converged with what the kernel shows.

This module wires the parts and runs the loop; each part is handed only what it needs:

- `reconcile.Reconciler`: one pass per project (plan, act, then health, rollouts, publishing);
- `executor.Executor`: the one writer of containers and networks;
- `publishing.Publisher`: published ports and DNS, the containers leaving rotation;
- `dependencies.DependencyGate`, `health_sync.HealthSync`, `health_restarts.UnhealthyRestarts`,
  `rollouts.RolloutController`;
- `project_ops.ProjectOps` (the verbs) and `queries.Queries` (what is answered without change).

Level-triggered (DESIGN invariant 1): a pass runs every `PASS_INTERVAL_S` and whenever something
happens (a container exit reported by the shim, an API call, a health change, a restart timer).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from apscheduler.schedulers.base import BaseScheduler

from orchestrator.engine.dependencies import DependencyGate
from orchestrator.engine.executor import Executor
from orchestrator.engine.health_restarts import UnhealthyRestarts
from orchestrator.engine.health_sync import HealthSync
from orchestrator.engine.observation import Observation
from orchestrator.engine.preflight import Preflight
from orchestrator.engine.probes import HealthMonitor
from orchestrator.engine.project_ops import OpsParts, ProjectOps
from orchestrator.engine.projects import ProjectLoader, ProjectLocks
from orchestrator.engine.publishing import Publisher
from orchestrator.engine.queries import Queries
from orchestrator.engine.reconcile import Reconciler
from orchestrator.engine.rollout_store import RolloutStore
from orchestrator.engine.rollouts import RolloutController, RolloutParts
from orchestrator.engine.store import Store
from runtime.container.runtime import ContainerRuntime
from runtime.image.build import Builder
from runtime.image.registry import Registries
from runtime.layout import HostLayout
from runtime.network import NetworkManager
from runtime.network.dns import DnsServer
from runtime.volume import VolumeStore

log = logging.getLogger("pyorch.engine")
PASS_INTERVAL_S = 2.0


class Engine:
    def __init__(self, layout: HostLayout, store: Store, runtime: ContainerRuntime, network: NetworkManager,
                 scheduler: BaseScheduler, dns: Callable[[], DnsServer | None] = DnsServer) -> None:
        self.layout = layout
        self.store = store
        self.runtime = runtime
        self.network = network
        self.scheduler = scheduler
        self._dns = dns
        self._stopping = threading.Event()

        self.executor = Executor(runtime, network, store)
        self.loader = ProjectLoader(store)
        self.locks = ProjectLocks()
        self.publisher = Publisher(store, network, self.executor.network_lock, self.loader, self.observe,
                                   lambda: self.executor.generation)
        self.executor.announce_to(self.publisher)  # DNS follows containers as they start and stop
        restarts = UnhealthyRestarts(store, self.loader, runtime.inspect, self.publisher,
                                     lambda cid: self.executor.stop(cid), self.wake)
        self.health = HealthMonitor(runtime, scheduler, restarts.on_change, store)
        health_sync = HealthSync(self.health, runtime.images)
        self.rollouts = RolloutController(RolloutParts(  # rolling updates (docs/rollouts.md)
            records=RolloutStore(layout.state_root / "engine.db"), store=store, loader=self.loader,
            locks=self.locks, executor=self.executor, publisher=self.publisher, health=health_sync,
            health_of=lambda cid: self.health.state(cid), observe=self.observe, inspect=runtime.inspect,
            wake=self.wake))
        self.publisher.exclude_with(self.rollouts.excluded)
        gate = DependencyGate(self.observe, self.health.state, health_sync.sync)
        self.reconciler = Reconciler(store, self.loader, self.locks, self.executor, self.publisher, health_sync,
                                     gate, self.rollouts, self.observe, lambda at: self.wake(at=at))
        self.queries = Queries(store, self.loader, self.observe, runtime, self.publisher, self.health.state)
        preflight = Preflight(network.list_networks, runtime.images, lambda: Builder(runtime), self.registries,
                              self.publisher, lambda: VolumeStore(layout.volumes_dir))
        self.ops = ProjectOps(OpsParts(
            store=store, loader=self.loader, locks=self.locks, executor=self.executor, publisher=self.publisher,
            reconciler=self.reconciler, preflight=preflight, queries=self.queries, observe=self.observe,
            inspect=runtime.inspect, exec_in=runtime.exec, networks=network.list_networks,
            forget_rollouts=self.rollouts.forget, volumes_dir=layout.volumes_dir, wake=self.wake))

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.runtime.shim.ensure_running()
        self.publisher.dns = self._dns()
        self.scheduler.add_job(self.reconcile_all, "interval", seconds=PASS_INTERVAL_S, id="reconcile",
                               next_run_time=dt.datetime.now())
        self.scheduler.start()
        threading.Thread(target=self._watch_exits, name="pyorch-exits", daemon=True).start()

    def shutdown(self) -> None:
        self._stopping.set()
        self.scheduler.shutdown(wait=False)
        if self.publisher.dns is not None:
            self.publisher.dns.close()
        self.runtime.shim.close()

    def reconcile_all(self) -> None:
        self.reconciler.reconcile_all()

    def observe(self) -> Observation:
        """Every container, read now (`generation`: the executor's writes completed before the read)."""
        generation = self.executor.generation
        return Observation(self.runtime.containers(), generation)

    def registries(self) -> Registries:
        """Registry settings and credentials, read afresh (`pyorch login` changes them)."""
        return Registries.for_state(self.layout.state_root)

    def wake(self, at: float | None = None) -> None:
        """Make the next pass come now (or at ``at``, epoch seconds)."""
        when = dt.datetime.now() if at is None else dt.datetime.fromtimestamp(at)
        if at is None:
            job = self.scheduler.get_job("reconcile")
            if job is not None:
                job.modify(next_run_time=when)
            return
        self.scheduler.add_job(self.wake, "date", run_date=when)

    def _watch_exits(self) -> None:
        while not self._stopping.is_set():
            try:
                for event in self.runtime.exit_events():
                    log.info("container %s exited with %s", event.get("id", "?")[:12], event.get("exit_code"))
                    self.wake()
            except Exception as exc:
                log.warning("exit watcher: %s", exc)
            self._stopping.wait(1.0)
