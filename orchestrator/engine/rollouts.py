"""Rolling updates and rollbacks: the side effects of `orchestrator/planner/rollout.py`.

A service rolls (instead of being recreated all at once, as Compose does) when its file has
`deploy.update_config` or `deploy.rollback_config`. The reconcile pass leaves such a service's
outdated containers alone and asks this controller to replace them; one runner thread per service
works through them like swarmkit's updater: `parallelism` workers, `delay` after each slot,
`order` stop-first or start-first, each new replica judged healthy (or running without a
healthcheck) and watched for `monitor` before it joins the published port, failures counted
against `max_failure_ratio`, then `failure_action` pause, continue or rollback.

Coordination with the reconcile pass: replicas in flight are hidden from the planner (and the
slot they stand for is subtracted from the desired count), and replicas not yet admitted or being
drained are left out of the published port's backends and of DNS. Every change of either happens under the
project's lock, so a pass never sees half a step. The rollout record is stored after each slot,
so an engine restart resumes an active rollout (the pass finds the outdated replicas again) and
keeps a paused one paused until the next `up`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from orchestrator.engine.executor import Executor
from orchestrator.engine.health_sync import HealthSync
from orchestrator.engine.observation import Observe
from orchestrator.engine.pins import keeps_containers, service_version
from orchestrator.engine.ports import tcp_targets
from orchestrator.engine.projects import ProjectLoader, ProjectLocks
from orchestrator.engine.publishing import Publisher
from orchestrator.engine.rollout_store import RolloutRecord, RolloutStore
from orchestrator.engine.store import Store
from orchestrator.errors import EngineError
from orchestrator.planner import rollout as plan
from orchestrator.planner.health import HealthCheck, HealthState
from orchestrator.planner.model import DesiredService, ObservedContainer
from orchestrator.spec import Project
from runtime.container.state import ContainerInfo
from runtime.errors import RuntimeFailure
from runtime.network.flows import Drained, wait_drained, wait_inbound_drained

log = logging.getLogger("pyorch.rollout")
POLL_S = 0.1
DEFAULT_DRAIN_S = 10.0
# After a replica left DNS, how long a client that resolved its name just before may take to connect.
NAME_GRACE_S = 1.0


def _inbound_drained(pid: int, timeout: float) -> int:
    return wait_inbound_drained(pid, timeout, NAME_GRACE_S)


class RolloutError(EngineError):
    """A rollout or rollback request that cannot be carried out (nothing was changed)."""


@dataclass
class _Slot:
    """One replica being replaced; what the planner and the balancer must not see of it."""

    service: str
    old: ObservedContainer
    new_id: str | None = None
    new_name: str | None = None       # known before its id: DNS must not list it while it is created
    old_hidden: bool = False          # the old replica is being stopped: it stands for this slot
    old_draining: bool = False        # the old replica left the published port
    new_admitted: bool = False        # the new replica joined the published port
    events_before: int = 0            # the last event id before the new replica was created


@dataclass
class _Run:
    project: str
    service: str
    kind: plan.Kind
    config: plan.RolloutConfig
    record: RolloutRecord
    dirty: list[ObservedContainer]
    stop: threading.Event = field(default_factory=threading.Event)
    roll_back: bool = False


@dataclass(frozen=True)
class RolloutParts:
    """What the rollout controller works with: the store, the project loader and locks, the
    executor (the only writer of containers), the publisher, health and observation."""

    records: RolloutStore
    store: Store
    loader: ProjectLoader
    locks: ProjectLocks
    executor: Executor
    publisher: Publisher
    health: HealthSync
    health_of: Callable[[str], HealthState | None]
    observe: Observe
    inspect: Callable[[str], ContainerInfo]
    wake: Callable[[str], None]  # a pass over the project soon
    drained: Drained = wait_drained  # open connections (to the given ports) left after waiting
    # connections by name (container to container) left after waiting, read from the replica's
    # own sockets: the host's conntrack sees them only with bridge netfilter on
    inbound_drained: Callable[[int, float], int] = _inbound_drained


class RolloutController:
    def __init__(self, parts: RolloutParts) -> None:
        self.parts = parts
        self.records = parts.records
        self._guard = threading.Lock()
        self._runs: dict[tuple[str, str], _Run] = {}
        self._slots: dict[str, list[_Slot]] = {}

    # --- what the reconcile pass asks ----------------------------------------------------------------
    def adjust(self, project: Project, desired: dict[str, DesiredService],
               observed: list[ObservedContainer]) -> tuple[dict[str, DesiredService], list[ObservedContainer]]:
        """The planner's view: rolling services marked, replicas in flight hidden and not counted."""
        with self._guard:
            slots = list(self._slots.get(project.name, []))
        hidden = {s.old.id for s in slots if s.old_hidden} | {s.new_id for s in slots if s.new_id}
        held = Counter(s.service for s in slots if s.old_hidden)
        adjusted = {
            name: replace(d, rolling=self._rolling(project, name, service_version(project, name)),
                          replicas=max(0, d.replicas - held[name]))
            for name, d in desired.items()
        }
        return adjusted, [c for c in observed if c.id not in hidden]

    def excluded(self, project: str) -> set[str]:
        """Containers that must not receive new connections, on published ports or by name: ids,
        and the name of a new replica being created (DNS may be rebuilt before its id is known)."""
        with self._guard:
            slots = list(self._slots.get(project, []))
        return ({s.new_id or s.new_name or "" for s in slots if (s.new_id or s.new_name) and not s.new_admitted}
                | {s.old.id for s in slots if s.old_draining} | self._unproven(project))

    def _unproven(self, project: str) -> set[str]:
        """Replicas of an active rollout's target configuration whose health check has not passed
        yet. Slots live in memory: after an engine restart, a new replica that a slot had created
        but not admitted is no slot's any more, and without this it would take connections as
        soon as it runs, before it is ready (a rollout admits a replica only once it is healthy)."""
        targets = {r.service: plan.split_version(r.to_hash) for r in self.records.for_project(project)
                   if r.status in plan.ACTIVE_STATES}
        if not targets:
            return set()
        unproven = set()
        for c in self.parts.observe().project(project):
            config_hash, image_id = targets.get(c.service, ("", None))
            of_target = c.config_hash == config_hash and image_id in (None, c.info.record.image_id)
            if of_target and c.status == "running":
                state = self.parts.health_of(c.id)
                if state is not None and state.status == "starting":
                    unproven.add(c.id)
        return unproven

    def _rolling(self, project: Project, service: str, target: str) -> bool:
        """``target``: the service's version (pins.service_version)."""
        svc = project.services[service]
        if plan.is_rolling(svc.deploy) or (project.name, service) in self._runs:
            return True
        record = self.records.get(project.name, service)
        return record is not None and record.kind == "rollback" and record.to_hash == target

    def reconcile(self, project: Project, revision: int, observed: list[ObservedContainer]) -> None:
        """Start a runner for every rolling service with outdated replicas (called under the lock);
        ``observed``: the project's containers as the pass saw them after its actions."""
        with self._guard:
            hidden = {s.old.id for ss in self._slots.values() for s in ss} | {
                s.new_id for ss in self._slots.values() for s in ss if s.new_id}
        observed = [c for c in observed if c.id not in hidden]
        for name, svc in project.services.items():
            if (project.name, name) in self._runs:
                continue
            target = service_version(project, name)
            if not self._rolling(project, name, target) or keeps_containers(project):
                continue
            dirty = plan.dirty_containers([c for c in observed if c.service == name], target)
            record = self.records.get(project.name, name)
            if not dirty:
                if record is not None and record.status in plan.ACTIVE_STATES and record.to_hash == target:
                    total, updated = plan.resumed_counts(record.total, record.updated, record.failed, 0)
                    self._finish(record.with_(status=plan.completed_status(_kind(record.kind)), total=total,
                                              updated=updated))
                continue
            same_target = record is not None and record.to_hash == target
            if same_target and record is not None and record.status in plan.PAUSED_STATES \
                    and record.revision == revision:
                continue  # paused until a new revision is written (Swarm: until the next update)
            kind: plan.Kind = "rollback" if same_target and record is not None and record.kind == "rollback" \
                else "update"
            deploy = svc.deploy
            raw = getattr(deploy, "rollback_config" if kind == "rollback" else "update_config", None) \
                if deploy is not None else None
            config = plan.RolloutConfig.from_compose(raw)
            if svc.container_name and config.order == "start-first":
                config = replace(config, order="stop-first")  # one fixed name: two containers cannot coexist
            resumed = same_target and record is not None and record.status in plan.ACTIVE_STATES
            now = time.time()
            if resumed and record is not None:
                total, updated = plan.resumed_counts(record.total, record.updated, record.failed, len(dirty))
                new_record = record.with_(revision=revision, total=total, updated=updated)
            else:
                new_record = RolloutRecord(
                    project=project.name, service=name, kind=kind, status=plan.active_status(kind),
                    revision=revision, from_hash=plan.source_hash(dirty), to_hash=target, total=len(dirty),
                    started_at=now, updated_at=now,
                    message=record.message if record is not None and kind == "rollback" and same_target else "",
                )
            self.records.save(new_record)
            self.parts.store.record_event(project.name, f"{kind}-start", name, revision=revision,
                                           replicas=len(dirty), order=config.order,
                                           parallelism=config.parallelism, resumed=resumed)
            run = _Run(project.name, name, kind, config, new_record, dirty)
            self._runs[(project.name, name)] = run
            threading.Thread(target=self._execute, args=(run,), name=f"pyorch-rollout-{name}",
                             daemon=True).start()

    # --- queries and requests ------------------------------------------------------------------------
    def status(self, project: str) -> list[dict[str, Any]]:
        rows = []
        for record in self.records.for_project(project):
            view = record.view()
            run = self._runs.get((project, record.service))
            view["running"] = run is not None and run.record.revision == record.revision
            # what a client waits on, said here so that it needs no copy of the planner's states
            view["active"] = record.status in plan.ACTIVE_STATES or view["running"]
            view["completed"] = record.status in (plan.COMPLETED, plan.ROLLBACK_COMPLETED)
            view["config"] = asdict(run.config) if run is not None else None
            rows.append(view)
        return rows

    def rollback(self, project_name: str, service: str) -> dict[str, Any]:
        """`pyorch rollback SERVICE`: restore the service's previous configuration (Swarm's swap)."""
        with self.parts.locks(project_name):
            loaded = self.parts.loader.load(project_name)
            if loaded is None:
                raise RolloutError(f"project {project_name!r} is not up")
            project = loaded.project
            if service not in project.services:
                raise RolloutError(f"project {project_name!r} has no service {service!r} "
                                   f"(services: {', '.join(sorted(project.services))})")
            record = self._write_rollback(project, service, None, "manually requested rollback")
        self.parts.wake(project_name)
        return record.view()

    def forget(self, project: str) -> None:
        """`down`: stop the runners (they find the project gone) and drop the records."""
        for (name, _service), run in list(self._runs.items()):
            if name == project:
                run.stop.set()
        self.records.forget_project(project)

    # --- the runner ------------------------------------------------------------------------------------
    def _execute(self, run: _Run) -> None:
        queue: deque[ObservedContainer] = deque(run.dirty)
        lock = threading.Lock()

        def worker() -> None:
            while not run.stop.is_set():
                with lock:
                    if not queue:
                        return
                    old = queue.popleft()
                if not self._still_current(run):
                    run.stop.set()
                    return
                error = self._replace(run, old)
                with lock:
                    self._count(run, old, error)
                if run.config.delay and not run.stop.is_set():
                    run.stop.wait(run.config.delay)

        try:
            workers = [threading.Thread(target=worker, name=f"pyorch-rollout-{run.service}-{i}", daemon=True)
                       for i in range(plan.worker_count(run.config.parallelism, len(run.dirty)))]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            if run.roll_back:
                self._automatic_rollback(run)
            elif not run.stop.is_set() and self._still_current(run):
                self._finish(run.record.with_(status=plan.completed_status(run.kind)))
        except Exception as exc:
            log.exception("rollout of %s/%s", run.project, run.service)
            paused = plan.ROLLBACK_PAUSED if run.kind == "rollback" else plan.PAUSED
            self._finish(run.record.with_(status=paused, message=f"internal error: {exc}"))
        finally:
            self._runs.pop((run.project, run.service), None)
            self.parts.wake(run.project)

    def _count(self, run: _Run, old: ObservedContainer, error: str | None) -> None:
        if error is None:
            run.record = run.record.with_(updated=run.record.updated + 1)
            self.parts.store.record_event(run.project, f"{run.kind}-progress", run.service, replaced=old.name,
                                           updated=run.record.updated, total=run.record.total)
        else:
            run.record = run.record.with_(failed=run.record.failed + 1, message=error)
            self.parts.store.record_event(run.project, f"{run.kind}-failure", run.service, replaced=old.name,
                                           error=error, failed=run.record.failed, total=run.record.total)
            if plan.failure_triggers(run.record.failed, run.record.total, run.config) and not run.stop.is_set():
                status, roll_back = plan.failure_outcome(run.kind, run.config)
                verb = "rollback" if run.kind == "rollback" else "update"
                message = f"{verb} paused due to failure: {error}" if not roll_back \
                    else f"rolling back after failure: {error}"
                run.record = run.record.with_(status=status, message=message)
                run.roll_back = roll_back
                run.stop.set()
                self.parts.store.record_event(run.project, f"{run.kind}-{'rollback' if roll_back else 'pause'}",
                                               run.service, message=message)
        if self._still_current(run):
            self.records.save(run.record)

    def _still_current(self, run: _Run) -> bool:
        """False once a newer revision changed the service (or the project went down)."""
        loaded = self.parts.loader.load(run.project)
        if loaded is None or run.service not in loaded.project.services:
            return False
        return service_version(loaded.project, run.service) == run.record.to_hash

    def _finish(self, record: RolloutRecord) -> None:
        self.records.save(record)
        self.parts.store.record_event(record.project, f"{record.kind}-{record.status}", record.service,
                                       updated=record.updated, failed=record.failed, message=record.message)

    def _automatic_rollback(self, run: _Run) -> None:
        with self.parts.locks(run.project):
            loaded = self.parts.loader.load(run.project)
            if loaded is None or not self._still_current(run):
                return
            try:
                self._write_rollback(loaded.project, run.service, run.record.from_hash, run.record.message)
            except RolloutError as exc:
                self._finish(run.record.with_(status=plan.PAUSED, message=f"{run.record.message}; {exc}"))

    def _write_rollback(self, project: Project, service: str, wanted_hash: str | None,
                        message: str) -> RolloutRecord:
        """Store a revision whose ``service`` is its previous config; the next pass rolls it back."""
        current_hash = service_version(project, service)
        current = self.parts.store.current_spec(project.name)
        assert current is not None
        found = plan.previous_service_spec(self.records.revisions(project.name), service, current_hash,
                                           _hash_of, wanted_hash)
        if found is None:
            raise RolloutError(f"cannot roll back service {service!r}: no previous configuration is stored")
        spec = plan.spec_with_service(current, service, found[1])
        restored = Project.model_validate(spec)
        revision = self.parts.store.save_revision(project.name, str(restored.working_dir), spec)
        self.parts.store.record_event(project.name, "revision", project.name, revision=revision,
                                       rollback_of=service, restored_from=found[0])
        now = time.time()
        record = RolloutRecord(project=project.name, service=service, kind="rollback",
                               status=plan.ROLLBACK_STARTED, revision=revision, from_hash=current_hash,
                               to_hash=service_version(restored, service), total=0, started_at=now, updated_at=now,
                               message=message)
        self.records.save(record)
        return record

    # --- one slot ------------------------------------------------------------------------------------------
    def _replace(self, run: _Run, old: ObservedContainer) -> str | None:
        """Replace one replica; returns why it failed, or None."""
        slot = _Slot(run.service, old)
        with self._guard:
            self._slots.setdefault(run.project, []).append(slot)
        try:
            for step in plan.slot_steps(run.config.order):
                error = self._step(run, slot, step)
                if error is not None:
                    self._abandon(run, slot)
                    return error
            return None
        except (RuntimeFailure, EngineError, OSError) as exc:
            self._abandon(run, slot)
            return f"{old.name}: {exc}"
        finally:
            with self._guard:
                self._slots[run.project].remove(slot)
            self._publish(run.project)

    def _publish(self, project: str, change: Callable[[], None] | None = None) -> None:
        """Make ``change`` to a slot's visibility and apply it to the published port, both under the
        project's lock, so a pass never sees half a step."""
        with self.parts.locks(project):
            if change is not None:
                change()
            loaded = self.parts.loader.load(project)
            if loaded is not None:
                self.parts.publisher.publish(loaded.project)

    def _step(self, run: _Run, slot: _Slot, step: plan.Step) -> str | None:
        if step == "drain_old":
            self._drain_old(run, slot)
        elif step == "remove_old":
            self._remove(run.project, slot.old.id, run.service)
        elif step == "create_new":
            return self._create_new(run, slot)
        elif step in ("wait_ready", "monitor"):
            return self._watch(run, slot, until_ready=step == "wait_ready")
        elif step == "admit_new":
            def admit() -> None:
                slot.new_admitted = True

            self._publish(run.project, admit)
            self.parts.store.record_event(run.project, "container-admitted", run.service, id=slot.new_id)
        return None

    def _drain_old(self, run: _Run, slot: _Slot) -> None:
        def hide() -> None:
            slot.old_hidden = slot.old_draining = True

        self._publish(run.project, hide)
        if slot.old.status != "running":
            return
        timeout = DEFAULT_DRAIN_S
        loaded = self.parts.loader.load(run.project)
        if loaded is not None:
            timeout = min(DEFAULT_DRAIN_S, loaded.project.services[run.service].stop_grace_period or DEFAULT_DRAIN_S)
        ports = tcp_targets(loaded.project.services[run.service]) if loaded is not None else ()
        for ip in self.parts.store.attachments(slot.old.id).values():
            left = self.parts.drained(ip, timeout, ports)
            if left:
                log.info("%s: %d connection(s) still open after %.1fs of draining", slot.old.name, left, timeout)
        # It left DNS with the port: clients by name may still connect (for NAME_GRACE_S) or be served.
        left = self.parts.inbound_drained(self.parts.inspect(slot.old.id).record.pid, timeout)
        if left:
            log.info("%s: %d connection(s) by name still open after draining", slot.old.name, left)

    def _create_new(self, run: _Run, slot: _Slot) -> str | None:
        with self.parts.locks(run.project):
            loaded = self.parts.loader.load(run.project)
            if loaded is None or not self._still_current(run):
                return "superseded by a newer revision"
            project, revision = loaded.project, loaded.revision
            service = project.services[run.service]
            if run.config.order == "stop-first":
                number = slot.old.number
            else:
                numbers = [c.number for c in self.parts.observe().service(run.project, run.service)]
                number = max(numbers, default=0) + 1
            name = service.container_name or f"{project.name}-{run.service}-{number}"
            slot.events_before = self.records.last_event_id()
            slot.new_name = name
            slot.new_id = self.parts.executor.create_container(project, revision, run.service, number, name)
            self.parts.health.sync(project, self.parts.observe())
        return None

    def _watch(self, run: _Run, slot: _Slot, until_ready: bool) -> str | None:
        """Wait for the new replica to be ready (or, ``until_ready`` False, to survive `monitor`)."""
        assert slot.new_id is not None
        loaded = self.parts.loader.load(run.project)
        if loaded is None:
            return "project removed"
        check = self._healthcheck(loaded.project, run.service, slot.new_id)
        limit = plan.ready_deadline(check is not None, *(
            (check.interval, check.timeout, check.retries, check.start_period) if check else ()))
        if not until_ready:
            limit = run.config.monitor
        since = slot.events_before
        deadline = time.monotonic() + limit
        while True:
            verdict = plan.judge_new_replica(self._view(run.project, slot.new_id, check is not None, since))
            if verdict == "failed":
                return f"new replica of {run.service} failed ({self._why(slot.new_id)})"
            if until_ready and verdict == "ready":
                return None
            if time.monotonic() >= deadline:
                if until_ready:
                    return f"new replica of {run.service} not ready after {limit:g}s"
                return None
            if run.stop.is_set() and not self._still_current(run):
                return "superseded by a newer revision"
            time.sleep(POLL_S)

    def _healthcheck(self, project: Project, service: str, cid: str) -> HealthCheck | None:
        try:
            record = self.parts.inspect(cid).record
            image = record.image_id or record.image
        except RuntimeFailure:
            image = ""
        return self.parts.health.check_of(project, service, image)

    def _view(self, project: str, cid: str, has_check: bool, since: int) -> plan.ReplicaView:
        try:
            info = self.parts.inspect(cid)
        except RuntimeFailure:
            return plan.ReplicaView("missing", has_check, None, False, False)
        state = self.parts.health_of(cid)
        unhealthy = any(
            e.detail.get("id") == cid and (e.kind == "container-unhealthy-restart"
                                          or (e.kind == "health_status" and e.detail.get("status") == "unhealthy"))
            for e in self.parts.store.events_since(since, project))
        return plan.ReplicaView(info.status, has_check, state.status if state is not None else None,
                                info.record.restart_count > 0, unhealthy)

    def _why(self, cid: str) -> str:
        try:
            info = self.parts.inspect(cid)
        except RuntimeFailure:
            return "removed"
        state = self.parts.health_of(cid)
        if info.status == "exited":
            return f"exited with code {info.exit_code}"
        if state is not None and state.log and state.status == "unhealthy":
            return f"unhealthy: {state.log[-1].output.strip()[:200] or 'exit ' + str(state.log[-1].exit_code)}"
        return "unhealthy" if state is None or state.status != "healthy" else info.status

    def _abandon(self, run: _Run, slot: _Slot) -> None:
        """A failed slot: start-first keeps the old replica serving and removes the new one; stop-first
        leaves the new one to its restart policy (the old one is gone)."""
        if slot.new_id is not None and run.config.order == "start-first":
            self._remove(run.project, slot.new_id, run.service)
        slot.old_hidden = slot.old_draining = False

    def _remove(self, project: str, cid: str, service: str) -> None:
        try:
            self.parts.executor.remove_container(project, cid, service)
        except RuntimeFailure as exc:
            log.info("remove %s: %s", cid[:12], exc)


def _kind(text: str) -> plan.Kind:
    return "rollback" if text == "rollback" else "update"


def _hash_of(spec: dict[str, Any], service: str) -> str | None:
    """The service's version in a stored spec (None when the spec no longer validates)."""
    try:
        return service_version(Project.model_validate(spec), service)
    except (ValueError, KeyError):
        return None
