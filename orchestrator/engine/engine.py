"""The engine: keeps every stored project converged with what the kernel shows.

This module wires the parts and runs the loop; each part is handed only what it needs:

- `reconcile.Reconciler`: one pass per project (plan, act, then health, rollouts, publishing);
- `executor.Executor`: the one writer of containers and networks;
- `publishing.Publisher`: published ports and DNS, the containers leaving rotation;
- `dependencies.DependencyGate`, `health_sync.HealthSync`, `health_restarts.UnhealthyRestarts`,
  `rollouts.RolloutController`;
- `project_ops.ProjectOps` (the verbs) and `queries.Queries` (what is answered without change).

Level-triggered (DESIGN invariant 1), driven by events, with a slow resync (as Kubernetes
controllers are): a container exit reported by the shim, a health change, a restart timer or an
API call wakes the project it concerns (`workqueue.py`); observed state is kept from those events
(`observed.py`), and every `resync_s` (`PYORCH_RESYNC_S`, default 30 s), when the engine starts
and when the shim's event stream breaks, every container is listed from the kernel again and
every project passed over, so a missed event is healed within one period. An idle engine does
nothing between resyncs, whatever the size of the fleet.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from apscheduler.schedulers.base import BaseScheduler

from orchestrator.engine.dependencies import DependencyGate
from orchestrator.engine.executor import Executor
from orchestrator.engine.health_restarts import UnhealthyRestarts
from orchestrator.engine.health_sync import HealthSync
from orchestrator.engine.observation import Observation
from orchestrator.engine.observed import ObservedState
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
from orchestrator.engine.teardown import TeardownParts, Teardowns
from orchestrator.engine.workqueue import Work, WorkQueue
from runtime.container.runtime import ContainerRuntime
from runtime.image.registry import Registries
from runtime.layout import HostLayout
from runtime.network import NetworkManager
from runtime.network.dns import DnsServer
from runtime.volume import VolumeStore

if TYPE_CHECKING:
    from runtime.image.build import Builder

log = logging.getLogger("pyorch.engine")
RESYNC_S = 30.0


def resync_period() -> float:
    """`PYORCH_RESYNC_S` (seconds between full re-lists), or the default."""
    try:
        value = float(os.environ.get("PYORCH_RESYNC_S", RESYNC_S))
    except ValueError:
        return RESYNC_S
    return value if value > 0 else RESYNC_S


def new_builder(runtime: ContainerRuntime) -> Builder:
    """The Dockerfile builder, imported only when `up` has something to build: an engine that
    never builds does not hold its two dozen modules in memory."""
    from runtime.image.build import Builder

    return Builder(runtime)


class Engine:
    def __init__(self, layout: HostLayout, store: Store, runtime: ContainerRuntime, network: NetworkManager,
                 scheduler: BaseScheduler, dns: Callable[[], DnsServer | None] = DnsServer,
                 resync_s: float = RESYNC_S, after_resync: Callable[[], object] = lambda: None) -> None:
        self.layout = layout
        self._after_resync = after_resync  # the daemon hands freed heap back to the kernel there
        self.store = store
        self.runtime = runtime
        self.network = network
        self.scheduler = scheduler
        self._dns = dns
        self._stopping = threading.Event()
        self.queue = WorkQueue(resync_s)
        self.observed = ObservedState(runtime.containers, runtime.inspect)

        self.executor = Executor(runtime, network, store, changed=self.observed.touch)
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
        self.gate = DependencyGate(self.observe, self.health.state, health_sync.sync)
        self.teardowns = Teardowns(TeardownParts(
            store=store, loader=self.loader, locks=self.locks, executor=self.executor, publisher=self.publisher,
            networks=network.list_networks, observe=self.relist, forget_rollouts=self.rollouts.forget,
            volumes_dir=layout.volumes_dir))
        self.reconciler = Reconciler(store, self.loader, self.locks, self.executor, self.publisher, health_sync,
                                     self.gate, self.rollouts, self.observe, lambda project, at: self.wake(project, at),
                                     self.teardowns)
        self.queries = Queries(store, self.loader, self.observe, runtime, self.publisher, self.health.state)
        preflight = Preflight(network.list_networks, runtime.images, lambda: new_builder(runtime), self.registries,
                              self.publisher, lambda: VolumeStore(layout.volumes_dir))
        self.ops = ProjectOps(OpsParts(
            store=store, loader=self.loader, locks=self.locks, executor=self.executor, publisher=self.publisher,
            reconciler=self.reconciler, preflight=preflight, queries=self.queries, observe=self.relist,
            inspect=runtime.inspect, exec_in=runtime.exec, networks=network.list_networks,
            teardowns=self.teardowns, volumes_dir=layout.volumes_dir, wake=self.wake, gate=self.gate))

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.runtime.shim.ensure_running()
        self.executor.collect_leftovers()  # what a process that died left outside any record
        self.publisher.dns = self._dns()
        self.scheduler.start()
        threading.Thread(target=self._watch_exits, name="pyorch-exits", daemon=True).start()
        threading.Thread(target=self.run_loop, name="pyorch-reconcile", daemon=True).start()

    def shutdown(self) -> None:
        self._stopping.set()
        self.queue.close()
        self.scheduler.shutdown(wait=False)
        if self.publisher.dns is not None:
            self.publisher.dns.close()
        self.runtime.shim.close()

    def run_loop(self) -> None:
        """Passes, one at a time, until the queue is closed (`shutdown`)."""
        while (work := self.queue.take()) is not None:
            self.run_pass(work)

    def run_pass(self, work: Work) -> None:
        """A resync when one is due, otherwise a pass over the projects events woke."""
        try:
            if work.resync:
                self.reconcile_all()
                self._after_resync()
            else:
                self.reconciler.reconcile(None if work.every_project else work.projects)
        except Exception:
            log.exception("reconcile pass")

    def reconcile_all(self) -> None:
        """A resync: every container listed from the kernel, every project passed over."""
        self.reconciler.reconcile_all(self.relist())

    def observe(self) -> Observation:
        """Every container as last seen (kept from events; `generation`: the executor's writes
        completed before it, each of which has been read again)."""
        generation = self.executor.generation
        return Observation(self.observed.containers(), generation)

    def relist(self) -> Observation:
        """Every container read from the kernel now (a resync; the start of a verb that changes
        a project, so that it never acts on what a missed event left stale)."""
        generation = self.executor.generation
        return Observation(self.observed.relist(), generation)

    def registries(self) -> Registries:
        """Registry settings and credentials, read afresh (`pyorch login` changes them)."""
        return Registries.for_state(self.layout.state_root)

    def wake(self, project: str | None = None, at: float | None = None) -> None:
        """A pass over ``project`` (every project when None) now, or at ``at`` (epoch seconds)."""
        if at is None:
            self.queue.add(project)
            return
        # misfire_grace_time=None: a wake later than planned (a loaded host) still runs; APScheduler's
        # default of 1 s would skip it and leave the restart to the next resync. One timer per
        # (project, time): every pass over the project during a restart's backoff asks again.
        self.scheduler.add_job(self.wake, "date", run_date=dt.datetime.fromtimestamp(at), args=[project],
                               misfire_grace_time=None, id=f"wake:{project}:{at!r}", replace_existing=True)

    def exited(self, event: dict[str, object]) -> None:
        """The shim says a container exited: it is read again and its project passed over."""
        cid = str(event.get("id", ""))
        log.info("container %s exited with %s", cid[:12], event.get("exit_code"))
        self.observed.touch(cid)
        self.wake(self.observed.project_of(cid) or None)

    def log_dropped(self, event: dict[str, object]) -> None:
        """The shim's log of a container had to drop output (a full disk) and writes again: an
        event says how much, beside the line the log itself holds."""
        cid = str(event.get("id", ""))
        self.store.record_event(self.observed.project_of(cid) or "", "container-log-dropped",
                                self.observed.name_of(cid), id=cid, lines=event.get("lines"),
                                bytes=event.get("bytes"), since=event.get("since"))

    def _watch_exits(self) -> None:
        """The shim's exit events: the container is read again and its project passed over. Once
        subscribed, and whenever the stream ends (the shim went away), a resync reads what events
        may have been missed meanwhile.

        The stream's end is how the shim's death is noticed, at once: subscribing again starts a
        new shim, which adopts the running containers and records the exits nobody saw
        (`ShimClient.ensure_running`, `ContainerRuntime.adopt_orphans`); the resync then applies
        restart policies to those. A shim that cannot be started is retried every second, and
        said once."""
        failing = False
        while not self._stopping.is_set():
            ended = False
            try:
                for event in self.runtime.exit_events():
                    failing = False
                    if event.get("subscribed"):
                        self.queue.resync()
                    elif event.get("event") == "log-dropped":
                        self.log_dropped(event)
                    else:
                        self.exited(event)
                ended = True
            except Exception as exc:
                if not failing:
                    log.warning("exit watcher: %s (retrying every second)", exc)
                failing = True
            if self._stopping.is_set():
                return
            self.queue.resync()
            if ended:
                log.warning("pyorch-shim went away: a new one adopts the running containers")
            else:
                self._stopping.wait(1.0)
