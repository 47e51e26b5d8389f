"""Reconciliation: one pass makes a project's containers match its stored revision.

Level-triggered (DESIGN invariant 1): each pass reads the stored revision and the observed
containers and plans from scratch; every action is idempotent, so a pass interrupted by a crash
is finished by the next one. Passes are driven by events (engine.py, workqueue.py): an exit, a
probe result, a timer or an API call wakes the projects it concerns, and a resync every few tens
of seconds passes over every project with every container re-listed from the kernel, so a missed
event is healed within one resync period. A project that could not be passed (an API call held
it) or whose pass failed is queued again a little later, as a Kubernetes controller requeues.
A pass, per project:

1. the observation (shared by every step; kept from events, re-listed on a resync — observed.py);
2. `planner.converge.plan_project` computes the actions, with rolling replicas hidden;
3. restarts whose backoff delay is not over become timers (`wake(at=…)`), not sleeping threads;
4. the executor runs each wave, held by `depends_on` conditions;
5. health monitors follow the running replicas, rollouts start, ports and DNS are re-pointed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from orchestrator.engine.dependencies import DependencyGate, restart_dependencies
from orchestrator.engine.executor import Executor
from orchestrator.engine.health_sync import HealthSync
from orchestrator.engine.labels import LABEL_NETWORK_PARENT
from orchestrator.engine.network_mode import dependencies, namespace_parent
from orchestrator.engine.observation import Observation, Observe
from orchestrator.engine.pins import keeps_containers, pinned_image
from orchestrator.engine.projects import ProjectLoader, ProjectLocks
from orchestrator.engine.publishing import Publisher
from orchestrator.engine.rollouts import RolloutController
from orchestrator.engine.store import Store
from orchestrator.engine.teardown import Teardowns
from orchestrator.planner.converge import ConvergeOptions, plan_project
from orchestrator.planner.model import (
    Action,
    DesiredService,
    ObservedContainer,
    Plan,
    RemoveContainer,
    RestartContainer,
)
from orchestrator.planner.restart_policy import restart_of
from orchestrator.spec import Project
from orchestrator.spec.confighash import config_hash

log = logging.getLogger("pyorch.engine")
DEPENDENCY_TIMEOUT_S = 300.0
RETRY_S = 2.0  # a pass that failed (or waits for a dependency) is tried again after this
BUSY_RETRY_S = 1.0  # a project an API call holds is passed again after this
WakeAt = Callable[[str, float], None]  # (project, epoch seconds): a pass over the project then


class Reconciler:
    def __init__(self, store: Store, loader: ProjectLoader, locks: ProjectLocks, executor: Executor,
                 publisher: Publisher, health: HealthSync, gate: DependencyGate, rollouts: RolloutController,
                 observe: Observe, wake_at: WakeAt, teardowns: Teardowns) -> None:
        self.store = store
        self.loader = loader
        self.locks = locks
        self.executor = executor
        self.publisher = publisher
        self.health = health
        self.gate = gate
        self.rollouts = rollouts
        self.observe = observe
        self.wake_at = wake_at
        self.teardowns = teardowns
        self._booted: set[str] = set()  # projects that had their first pass since the engine started

    def reconcile(self, names: Iterable[str] | None = None, seen: Observation | None = None,
                  resync: bool = False) -> None:
        """One pass over ``names`` (every stored project when None). ``resync``: ``seen`` was just
        listed from the kernel, and each project's networks are checked and repaired too (a
        deleted bridge comes back); event-driven passes leave that to the resync. A project an
        API call is converging is queued again, as is one whose pass failed."""
        chosen = self.store.projects()
        if names is not None:
            wanted = set(names)  # once: ``names`` may be any iterable, a generator too
            chosen = [n for n in chosen if n in wanted]
        for name in chosen:
            lock = self.locks(name)
            if not lock.acquire(blocking=False):
                self.wake_at(name, time.time() + BUSY_RETRY_S)  # an API call is converging it right now
                continue
            try:
                loaded = self.loader.load(name)
                if loaded is not None:
                    errors, seen = self.converge(loaded.project, loaded.revision,
                                                 ConvergeOptions(engine_boot=name not in self._booted), seen=seen,
                                                 check_networks=resync or name not in self._booted)
                    self._booted.add(name)
                    if errors:
                        self.wake_at(name, time.time() + RETRY_S)
            except Exception:
                log.exception("reconcile %s", name)
                self.wake_at(name, time.time() + RETRY_S)
            finally:
                lock.release()

    def reconcile_all(self, seen: Observation | None = None) -> None:
        """A resync: every stored project, from ``seen`` (a fresh listing); and what a crash or a
        failed step left half done that no project's pass takes care of: `down`s owed (a project
        no longer stored), DEAD containers of no stored project (one-offs, a teardown's)."""
        self.teardowns.resume()
        self.executor.release_orphaned_addresses()  # once for every project's pass below
        self.reconcile(None, seen, resync=True)
        stored = set(self.store.projects())
        dead = [c for c in self.observe().dead if c.project not in stored]
        if dead:
            self.executor.collect(dead)

    def converge(self, project: Project, revision: int, options: ConvergeOptions,
                 wait_for_dependencies: bool = False, stop_timeout: float | None = None,
                 seen: Observation | None = None, check_networks: bool = True) -> tuple[list[str], Observation]:
        """Plan and act (the caller holds the project's lock); returns (errors, the last observation).
        ``check_networks``: make sure the project's networks exist and are whole first."""
        if check_networks:
            self.executor.ensure_networks(project)
        seen = self._fresh(seen)
        vacated: dict[str, list[int]] = {}
        dead = seen.dead_of(project.name)
        if dead:  # what a crash or a failed step left: removed before anything else, numbers reused
            self.executor.collect(dead)
            for c in dead:
                if c.project and c.number:
                    vacated.setdefault(c.service, []).append(c.number)
            seen = self.observe()
        flags = self.store.all_container_flags()  # one query for the whole project
        observed = self.planner_view(project.name, seen, flags)
        replicas = seen.project(project.name)
        desired = {
            name: DesiredService(
                name=name,
                replicas=svc.replicas,
                config_hash=config_hash(project, name),
                restart=restart_of(svc).docker,
                swarm_restart=restart_of(svc).swarm,
                depends_on=dependencies(svc),
                container_name=svc.container_name,
                image_id=pinned_image(svc),
                restart_with=restart_dependencies(svc),
                network_parent=namespace_parent(project, svc, replicas),
            )
            for name, svc in project.services.items()
        }
        if keeps_containers(project) and not options.force_recreate:
            options = replace(options, no_recreate=True)  # stored by `up --no-recreate`
        delays = {c.id: flags.get(c.id, (False, 0.0))[1] for c in observed}
        history = {c.id: self.store.restart_history(c.id) for c in observed if c.status == "exited"}
        now = time.time()
        desired, observed = self.rollouts.adjust(project, desired, observed)
        plan = plan_project(project.name, desired, observed, options, now=now, restart_delays=delays,
                            restart_history=history, vacated=vacated)
        plan = self._without_refused(project.name, revision, plan)
        plan = self._defer_future_restarts(project.name, plan, now)
        deadline = time.monotonic() + (DEPENDENCY_TIMEOUT_S if wait_for_dependencies else 0.0)

        def before_wave(wave: list[Action]) -> str | None:
            # The containers of earlier waves get their DNS names and views now: a one-shot that a
            # later wave waits for (a migration) must resolve `db`, a dependency must pass a health
            # check that reaches its own dependencies by name.
            self.publisher.sync_dns()
            return self.gate.wait(project, wave, deadline)

        errors = self.executor.run(project, revision, plan, before_wave, stop_timeout) if plan else []
        if wait_for_dependencies and not errors:
            # Compose's start phase waits for every selected service's dependencies, also where
            # nothing had to change: a one-shot started again that now fails makes `up` fail.
            idle = set(options.start_stopped) - {a.service for a in plan.actions}
            error = self.gate.wait_for(project, idle, deadline)
            if error:
                errors.append(error)
        seen = self._fresh(seen)
        self.health.sync(project, seen)
        self.rollouts.reconcile(project, revision, self.planner_view(project.name, seen))
        self.publisher.publish(project, seen)
        return errors, seen

    def _fresh(self, seen: Observation | None) -> Observation:
        """``seen`` while no write has completed since it was read; otherwise a new read."""
        if seen is not None and seen.generation == self.executor.generation:
            return seen
        return self.observe()

    def planner_view(self, project: str, seen: Observation,
                     flags: dict[str, tuple[bool, float]] | None = None) -> list[ObservedContainer]:
        """The project's replicas as the planner sees them; an exit seen for the first time is
        recorded as a `container-die` event (also one that happened while the engine was down).
        ``flags``: the store's container flags, when the caller has just read them."""
        if flags is None:
            flags = self.store.all_container_flags()
        result = []
        for c in seen.project(project):
            stopped_by_user, _ = flags.get(c.id, (False, 0.0))
            info = c.info
            if info.status == "exited" and info.finished_at:
                self.store.record_exit_once(project, info.id, info.name, info.finished_at, info.exit_code,
                                            info.oom_killed, info.exit_unknown)
            result.append(ObservedContainer(
                id=c.id, name=c.name, service=c.service, number=c.number, config_hash=c.config_hash,
                status=c.status, created_at=info.record.created_at, started_at=info.record.started_at,
                exit_code=info.exit_code, finished_at=info.finished_at, restart_count=info.record.restart_count,
                stopped_by_user=stopped_by_user, image_id=info.record.image_id,
                network_parent=info.labels.get(LABEL_NETWORK_PARENT, ""),
            ))
        return result

    def _without_refused(self, project: str, revision: int, plan: Plan) -> Plan:
        """Creates and restarts whose configuration was refused at this revision are not tried again
        (a retry would fail the same way); a new revision (the next `up`) tries them again."""
        refused = {r.name for r in self.store.refusals(project) if r.revision == revision}
        if not refused:
            return plan
        kept = Plan()
        for wave in plan.waves:
            left = [a for a in wave if isinstance(a, RemoveContainer) or a.name not in refused]
            if left:
                kept.waves.append(left)
        return kept

    def _defer_future_restarts(self, project: str, plan: Plan, now: float) -> Plan:
        """Restarts still in their backoff delay wait for a timer instead of a worker thread."""
        kept = Plan()
        for wave in plan.waves:
            ready = []
            for action in wave:
                if isinstance(action, RestartContainer) and action.not_before > now:
                    self.wake_at(project, action.not_before)
                else:
                    ready.append(action)
            if ready:
                kept.waves.append(ready)
        return kept
