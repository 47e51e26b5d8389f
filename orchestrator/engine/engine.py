"""The engine: keeps every stored project converged with what the kernel shows.

Level-triggered (DESIGN invariant 1): each pass reads the stored revision and the observed
containers and plans from scratch; shim exit events and API calls only make the next pass come
sooner. Every action is idempotent, so a pass interrupted by a crash is finished by the next one.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from orchestrator.engine.compose_build import ensure_built, with_build_images
from orchestrator.engine.discovery import dns_tables, dns_views
from orchestrator.engine.executor import Executor, service_networks
from orchestrator.engine.file_objects import check_file_objects
from orchestrator.engine.health import HealthCheck, HealthState
from orchestrator.engine.netplan import check_networks, network_specs
from orchestrator.engine.network_mode import dependencies
from orchestrator.engine.ports import port_key, service_bindings
from orchestrator.engine.probes import HealthMonitor
from orchestrator.engine.pull_policy import ensure_image
from orchestrator.engine.restart_policy import restart_of
from orchestrator.engine.rollouts import RolloutController
from orchestrator.engine.selection import select_services, with_scale
from orchestrator.engine.store import Store
from orchestrator.engine.teardown import take_down
from orchestrator.engine.translate import (
    LABEL_HASH,
    LABEL_NUMBER,
    LABEL_PROJECT,
    LABEL_SERVICE,
    health_check_for,
    volume_runtime_name,
)
from orchestrator.errors import EngineError
from orchestrator.planner.converge import ConvergeOptions, plan_project
from orchestrator.planner.model import Action, DesiredService, ObservedContainer, Plan, RestartContainer
from orchestrator.spec import Project
from runtime.container.runtime import ContainerInfo, ContainerRuntime, ExecSession
from runtime.errors import RuntimeFailure
from runtime.image.build import Builder
from runtime.image.registry import Registries
from runtime.layout import HostLayout
from runtime.network import NetworkManager, PortBinding
from runtime.network.dns import DnsServer

log = logging.getLogger("pyorch.engine")
PASS_INTERVAL_S = 2.0
DEPENDENCY_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class UpOptions:
    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    pull: str | None = None  # `up --pull always|missing|never`; None: each service's pull_policy
    services: list[str] | None = None  # `up SERVICE...`: only these (and their dependencies)
    no_deps: bool = False
    timeout: float | None = None  # `up -t`: grace period when recreating
    scale: dict[str, int] | None = None  # `up --scale SVC=N`


class Engine:
    def __init__(self, layout: HostLayout) -> None:
        self.layout = layout
        self.store = Store(layout.state_root / "engine.db")
        self.runtime = ContainerRuntime(layout)
        self.network = NetworkManager(layout)
        self.executor = Executor(self.runtime, self.network, self.store)
        self.scheduler = BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1})
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._projects: dict[tuple[str, int], Project] = {}
        self._stopping = threading.Event()
        self._booted: set[str] = set()  # projects that had their first pass since the engine started
        self.health = HealthMonitor(self.runtime, self.scheduler, self._on_health_change, self.store)
        self.dns: DnsServer | None = None  # started with the engine (binds port 53 on gateways)
        self.rollouts = RolloutController(self)  # rolling updates (docs/rollouts.md)
        self._leaving: set[str] = set()  # unhealthy containers being restarted: off the published ports
        # One publisher at a time, computing and applying together: otherwise a pass that read the
        # backends before a drain hid a replica could apply its older set after the drain's.
        self._publish_lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.runtime.shim.ensure_running()
        self.dns = DnsServer()
        self.scheduler.add_job(self.reconcile_all, "interval", seconds=PASS_INTERVAL_S, id="reconcile",
                               next_run_time=dt.datetime.now())
        self.scheduler.start()
        threading.Thread(target=self._watch_exits, name="pyorch-exits", daemon=True).start()

    def shutdown(self) -> None:
        self._stopping.set()
        self.scheduler.shutdown(wait=False)
        if self.dns is not None:
            self.dns.close()
        self.runtime.shim.close()

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

    def _lock(self, project: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(project, threading.Lock())

    # --- desired state --------------------------------------------------------------------------------
    def project(self, name: str) -> tuple[Project, int] | None:
        revision = self.store.current_revision(name)
        if revision is None:
            return None
        cached = self._projects.get((name, revision))
        if cached is None:
            spec = self.store.current_spec(name)
            assert spec is not None
            cached = Project.model_validate(spec)
            self._projects[(name, revision)] = cached
        return cached, revision

    def up(self, spec: dict[str, Any], options: UpOptions) -> dict[str, Any]:
        try:
            spec = with_build_images(spec)  # build-only services get <project>-<service>
            spec = with_scale(spec, options.scale or {})
            spec = select_services(spec, self.store.current_spec(str(spec.get("name"))),
                                   list(options.services or []), options.no_deps)
            project = Project.model_validate(spec)
        except ValueError as exc:
            raise EngineError(f"invalid project: {exc}") from exc
        self._preflight(project, options.pull)
        with self._lock(project.name):
            revision = self.store.save_revision(project.name, str(project.working_dir), spec)
            self._projects[(project.name, revision)] = project
            self.store.record_event(project.name, "revision", project.name, revision=revision)
            errors = self._converge(project, revision, ConvergeOptions(
                force_recreate=options.force_recreate, no_recreate=options.no_recreate,
                remove_orphans=options.remove_orphans,
            ), wait_for_dependencies=True, stop_timeout=options.timeout)
        return {"project": project.name, "revision": revision, "errors": errors,
                "containers": self.ps(project.name), "warnings": list(project.warnings)}

    def _preflight(self, project: Project, pull: str | None = None) -> None:
        """Refuse what would fail half-way: missing images, taken ports. Nothing has changed yet."""
        check_networks(project, self.network.list_networks())
        check_file_objects(project)
        listening: dict[str, set[int]] = {}  # the host's listening ports, read once for every service
        for service in project.services.values():
            ensure_built(Builder(self.runtime), project, service)  # build: when the image is missing
            if not service.image:
                raise EngineError(f"service {service.name!r} has no image")
            ensure_image(self.runtime.images, Registries.for_state(self.layout.state_root), service.name,
                         service.image, service.pull_policy, pull, service.platform)
            bindings = self._bindings(project, service.name, allocate=False)
            if bindings:
                try:
                    self.network.check_ports(port_key(project.name, service.name), bindings, listening)
                except RuntimeFailure as exc:
                    raise EngineError(f"service {service.name!r}: {exc}") from exc

    # --- reconciliation -------------------------------------------------------------------------------
    def reconcile_all(self) -> None:
        for name in self.store.projects():
            lock = self._lock(name)
            if not lock.acquire(blocking=False):
                continue  # an API call is converging it right now
            try:
                loaded = self.project(name)
                if loaded is not None:
                    self._converge(loaded[0], loaded[1], ConvergeOptions(engine_boot=name not in self._booted))
                    self._booted.add(name)
            except Exception:
                log.exception("reconcile %s", name)
            finally:
                lock.release()

    def _converge(self, project: Project, revision: int, options: ConvergeOptions,
                  wait_for_dependencies: bool = False, stop_timeout: float | None = None) -> list[str]:
        self._ensure_networks(project)
        observed = self.observed(project.name)
        desired = {
            name: DesiredService(
                name=name,
                replicas=svc.replicas,
                config_hash=project.config_hash(name),
                restart=restart_of(svc).docker,
                swarm_restart=restart_of(svc).swarm,
                depends_on=dependencies(svc),
                container_name=svc.container_name,
            )
            for name, svc in project.services.items()
        }
        delays = {c.id: self.store.container_flags(c.id)[1] for c in observed}
        history = {c.id: self.store.restart_history(c.id) for c in observed if c.status == "exited"}
        now = time.time()
        desired, observed = self.rollouts.adjust(project, desired, observed)
        plan = plan_project(project.name, desired, observed, options, now=now, restart_delays=delays,
                            restart_history=history)
        plan = self._defer_future_restarts(plan, now)
        deadline = time.monotonic() + (DEPENDENCY_TIMEOUT_S if wait_for_dependencies else 0.0)
        errors = self.executor.run(project, revision, plan,
                                   lambda wave: self._wait_dependencies(project, wave, deadline),
                                   stop_timeout) if plan else []
        self._sync_health(project)
        self.rollouts.reconcile(project, revision)
        self._publish_ports(project)
        return errors

    # --- depends_on ------------------------------------------------------------------------------------
    def _wait_dependencies(self, project: Project, wave: list[Action], deadline: float) -> str | None:
        """Hold a wave until the conditions its services depend on hold (Compose's waitDependencies).

        `up` waits (polling, like Compose, every 0.5 s) until ``deadline``; the background pass does
        not wait at all and simply retries on the next pass.
        """
        services = {getattr(a, "service", "") for a in wave}
        needed = any(project.services[n].depends_on for n in services if n in project.services)
        while needed:
            self._sync_health(project)  # dependencies created by an earlier wave get their monitors now
            pending: list[str] = []
            for name in sorted(services):
                for dep, cond in (project.services[name].depends_on or {}).items():
                    if dep not in project.services:
                        continue
                    state, detail = self._dependency_state(project.name, dep, cond.condition)
                    if state == "failed" and cond.required:
                        return f"dependency failed to start: service {dep!r} {detail} (needed by {name!r})"
                    if state == "waiting":
                        pending.append(f"{dep} ({detail})")
            if not pending:
                return None
            if time.monotonic() >= deadline:
                return "waiting for dependencies: " + ", ".join(pending)
            time.sleep(0.5)
        return None

    def _dependency_state(self, project: str, service: str, condition: str) -> tuple[str, str]:
        containers = [c for c in self.runtime.containers()
                      if c.labels.get(LABEL_PROJECT) == project and c.labels.get(LABEL_SERVICE) == service]
        if condition == "service_started":
            return "ok", ""
        if condition == "service_completed_successfully":
            exited = [c for c in containers if c.status == "exited"]
            if not exited:
                return "waiting", "has not completed"
            code = exited[0].exit_code
            return ("ok", "") if code == 0 else ("failed", f"exited with code {code}")
        # service_healthy: every replica healthy; an exit, unhealthy or no healthcheck fails
        if not containers:
            return "waiting", "has no container yet"
        for c in containers:
            if c.status == "exited":
                return "failed", f"exited with code {c.exit_code}"
            state = self.health.state(c.id, c.record.started_at)
            if state is None and c.status == "running":
                return "failed", "has no healthcheck"
            if state is None or state.status == "starting":
                return "waiting", "is starting"
            if state.status == "unhealthy":
                return "failed", "is unhealthy"
        return "ok", ""

    # --- health ---------------------------------------------------------------------------------------
    def _sync_health(self, project: Project) -> None:
        running: dict[str, tuple[float, HealthCheck | None]] = {}
        for c in self.runtime.containers():
            if c.labels.get(LABEL_PROJECT) != project.name or c.status != "running":
                continue
            service = project.services.get(c.labels.get(LABEL_SERVICE, ""))
            if service is None:
                continue
            try:
                image_hc = self.runtime.images.resolve(c.record.image).config.healthcheck
            except RuntimeFailure:
                image_hc = None
            running[c.id] = (c.record.started_at, health_check_for(service, image_hc))
        self.health.sync(project.name, running)

    def _on_health_change(self, cid: str, old: HealthState, new: HealthState) -> None:
        """Record the transition; an unhealthy container with a restart policy is restarted (Swarm does,
        Compose never does: moby/moby#28400)."""
        try:
            info = self.runtime.inspect(cid)
        except RuntimeFailure:
            return
        project = info.labels.get(LABEL_PROJECT, "")
        self.store.record_event(project, "health_status", info.name, id=cid, status=new.status,
                                failing_streak=new.failing_streak)
        loaded = self.project(project)
        if new.status == "unhealthy" and loaded is not None:
            service = loaded[0].services.get(info.labels.get(LABEL_SERVICE, ""))
            if service is not None and restart_of(service).restarts:
                self.store.record_event(project, "container-unhealthy-restart", info.name, id=cid)
                # New connections stop going to it before it is stopped, as in a rollout.
                self._leaving.add(cid)
                try:
                    self._publish_ports(loaded[0])
                    self.runtime.stop(cid)
                finally:
                    self._leaving.discard(cid)
                self.wake()
        self.wake()

    def _defer_future_restarts(self, plan: Plan, now: float) -> Plan:
        """Restarts still in their backoff delay wait for a timer instead of a worker thread."""
        kept = Plan()
        for wave in plan.waves:
            ready = []
            for action in wave:
                if isinstance(action, RestartContainer) and action.not_before > now:
                    self.wake(at=action.not_before)
                else:
                    ready.append(action)
            if ready:
                kept.waves.append(ready)
        return kept

    def observed(self, project: str) -> list[ObservedContainer]:
        result = []
        for info in self.runtime.containers():
            if info.labels.get(LABEL_PROJECT) != project:
                continue
            stopped_by_user, _ = self.store.container_flags(info.id)
            if info.status == "exited" and info.finished_at:
                self.store.record_exit_once(project, info.id, info.name, info.finished_at, info.exit_code,
                                            info.oom_killed)
            result.append(_observed(info, stopped_by_user))
        return result

    def _ensure_networks(self, project: Project) -> None:
        for spec in network_specs(project):
            with self.executor.network_lock:
                self.network.ensure_network(spec)

    # --- published ports ------------------------------------------------------------------------------
    def _bindings(self, project: Project, service_name: str, allocate: bool) -> list[PortBinding]:
        return service_bindings(self.store, self.network.allocate_host_port if allocate else None,
                                project.name, project.services[service_name])

    def _publish_ports(self, project: Project) -> None:
        with self._publish_lock:
            self._publish_ports_now(project)

    def _publish_ports_now(self, project: Project) -> None:
        # Replicas not admitted yet or draining (rollouts), and unhealthy ones on their way out.
        excluded = self.rollouts.excluded(project.name) | self._leaving
        running = [c for c in self.runtime.containers()
                   if c.labels.get(LABEL_PROJECT) == project.name and c.status == "running" and c.id not in excluded]
        publications: dict[str, tuple[list[PortBinding], list[str]]] = {}
        for name, service in project.services.items():
            if not service.ports:
                continue
            nets = service_networks(project, service)
            if not nets:
                continue
            backends = []
            for c in running:
                if c.labels.get(LABEL_SERVICE) == name:
                    ip = self.store.attachments(c.id).get(nets[0].runtime_name)
                    if ip:
                        backends.append(ip)
            publications[port_key(project.name, name)] = (self._bindings(project, name, True), sorted(backends))
        if publications:
            with self.executor.network_lock:  # every service's port in one nftables transaction
                self.network.publish_all(publications)
        self._sync_dns()

    def _sync_dns(self) -> None:
        """Rebuild every network's name table from the running containers (all projects)."""
        if self.dns is None:
            return
        containers = self.runtime.containers()
        tables = dns_tables(containers, self.project, self.store.attachments)
        networks = {n.name: n for n in self.network.list_networks()}
        for name in set(self.dns.networks()) - set(networks):
            self.dns.remove_network(name)
        for name, info in networks.items():
            try:
                self.dns.set_network(name, info.gateway, forward=not info.internal)
            except OSError as exc:
                log.warning("DNS on %s (%s): %s", name, info.gateway, exc)
                continue
            self.dns.set_records(name, tables.get(name, {}))
        self.dns.set_views(dns_views(containers, self.project, self.store.attachments))

    # --- teardown ---------------------------------------------------------------------------------------
    def down(self, name: str, timeout: float | None, remove_volumes: bool = False) -> dict[str, Any]:
        with self._lock(name):
            loaded = self.project(name)
            containers, errors = take_down(self, name, loaded[0] if loaded else None, timeout)
            volumes = self._remove_volumes(name, loaded[0] if loaded else None) if remove_volumes else []
            self._sync_dns()
            self.store.record_event(name, "down", name, removed=len(containers))
        return {"project": name, "removed": [c.name for c in containers], "volumes": volumes, "errors": errors}

    def _remove_volumes(self, name: str, project: Project | None) -> list[str]:
        """`down -v`: the project's named volumes (not external ones) and its anonymous volumes."""
        names = set() if project is None else {
            volume_runtime_name(project, key) for key, v in project.volumes.items() if not v.external}
        removed = []
        if self.layout.volumes_dir.exists():
            for path in self.layout.volumes_dir.iterdir():
                if path.name in names or (path.name.startswith(f"{name}_") and "_anon_" in path.name):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path.name)
        return sorted(removed)

    # --- stop / start --------------------------------------------------------------------------------
    def _selected(self, project: str, services: list[str]) -> list[ContainerInfo]:
        return [c for c in self.runtime.containers()
                if c.labels.get(LABEL_PROJECT) == project
                and (not services or c.labels.get(LABEL_SERVICE) in services)]

    def stop_services(self, project: str, services: list[str], timeout: float | None) -> dict[str, Any]:
        """A manual stop: the container stays, and no restart policy brings it back."""
        with self._lock(project):
            chosen = [c for c in self._selected(project, services) if c.status == "running"]
            for c in chosen:
                self.store.set_container_flags(c.id, project, True, 0.0)
            list(self.executor.pool.map(lambda c: self.runtime.stop(c.id, timeout), chosen))
            loaded = self.project(project)
            if loaded is not None:
                self._publish_ports(loaded[0])
            for c in chosen:
                self.store.record_event(project, "container-stop", c.name, id=c.id)
        return {"stopped": [c.name for c in chosen]}

    def pause_services(self, project: str, services: list[str], pause: bool) -> dict[str, Any]:
        """Freeze (or thaw) running containers; paused ones leave the published-port set meanwhile."""
        wanted = "running" if pause else "paused"
        done, errors = [], []
        with self._lock(project):
            for c in self._selected(project, services):
                if c.status != wanted:
                    continue
                try:
                    self.runtime.pause(c.id) if pause else self.runtime.unpause(c.id)
                    done.append(c.name)
                    kind = "container-pause" if pause else "container-unpause"
                    self.store.record_event(project, kind, c.name, id=c.id)
                except RuntimeFailure as exc:
                    errors.append(f"{c.name}: {exc}")
            loaded = self.project(project)
            if loaded is not None:
                self._publish_ports(loaded[0])
        return {"containers": done, "errors": errors}

    def kill_services(self, project: str, services: list[str], sig: int) -> dict[str, Any]:
        """`kill`: a signal to each running container; like Docker, no restart policy brings it back."""
        killed = []
        with self._lock(project):
            for c in self._selected(project, services):
                if c.status in ("running", "paused"):
                    # Like moby's killWithSignal: a killed container counts as stopped by hand.
                    self.store.set_container_flags(c.id, project, True, 0.0)
                    self.runtime.kill(c.id, sig)
                    killed.append(c.name)
                    self.store.record_event(project, "container-kill", c.name, id=c.id, signal=sig)
        self.wake()
        return {"killed": killed}

    def start_services(self, project: str, services: list[str]) -> dict[str, Any]:
        """Start stopped containers again (same container, new process), resetting their restart count."""
        loaded = self.project(project)
        if loaded is None:
            raise EngineError(f"project {project!r} is not up")
        started, errors = [], []
        with self._lock(project):
            for c in self._selected(project, services):
                if c.status != "exited":
                    continue
                self.store.set_container_flags(c.id, project, False, 0.0)
                action = RestartContainer(c.id, c.name, c.labels.get(LABEL_SERVICE, ""), 0.0, 0, 0.0)
                error = self.executor.run(loaded[0], loaded[1], Plan([[action]]))
                self.store.forget_restart_history(c.id)  # a manual start is a fresh start, as in Docker
                errors += error
                if not error:
                    started.append(c.name)
            self._publish_ports(loaded[0])
        return {"started": started, "errors": errors}

    # --- queries ----------------------------------------------------------------------------------------
    def ps(self, name: str, all_containers: bool = True) -> list[dict[str, Any]]:
        rows = []
        loaded = self.project(name)
        for info in self.runtime.containers():
            if info.labels.get(LABEL_PROJECT) != name:
                continue
            if not all_containers and info.status != "running":
                continue
            service = info.labels.get(LABEL_SERVICE, "")
            ports = []
            if loaded is not None and service in loaded[0].services:
                for b in self._bindings(loaded[0], service, allocate=False):
                    ports.append(f"{b.host_ip or '0.0.0.0'}:{b.host_port}->{b.container_port}/{b.protocol}")
            rows.append({
                "id": info.id, "name": info.name, "service": service,
                "number": int(info.labels.get(LABEL_NUMBER, "0") or 0),
                "image": info.record.image, "status": info.status, "exit_code": info.exit_code,
                "oom_killed": info.oom_killed, "created_at": info.record.created_at,
                "started_at": info.record.started_at, "finished_at": info.finished_at,
                "restart_count": info.record.restart_count, "pid": info.record.pid,
                "ports": ports, "networks": self.store.attachments(info.id),
                "health": _health_view(self.health.state(info.id, info.record.started_at)),
            })
        return sorted(rows, key=lambda r: (r["service"], r["number"]))

    def _service_container(self, project: str, service: str, index: int) -> ContainerInfo:
        candidates = sorted(
            (c for c in self.runtime.containers()
             if c.labels.get(LABEL_PROJECT) == project and c.labels.get(LABEL_SERVICE) == service
             and c.status == "running"),
            key=lambda c: int(c.labels.get(LABEL_NUMBER, "0") or 0),
        )
        numbered = [c for c in candidates if int(c.labels.get(LABEL_NUMBER, "0") or 0) == index]
        if numbered:
            return numbered[0]
        if candidates and index == 1:
            return candidates[0]
        raise EngineError(f"service {service!r} of project {project!r} has no running container #{index}")

    def exec(self, project: str, service: str, index: int, args: list[str], env: list[str],
             user: str | None, workdir: str | None) -> ExecSession:
        container = self._service_container(project, service, index)
        return self.runtime.exec(container.id, args, env=env, user=user, workdir=workdir)

    def top(self, project: str, services: list[str]) -> list[dict[str, Any]]:
        result = []
        for c in self.runtime.containers():
            if c.labels.get(LABEL_PROJECT) != project or c.status != "running":
                continue
            if services and c.labels.get(LABEL_SERVICE) not in services:
                continue
            result.append({"name": c.name, "processes": self.runtime.processes(c.id)})
        return sorted(result, key=lambda r: str(r["name"]))

    def stats(self, name: str) -> list[dict[str, Any]]:
        """Raw cgroup counters of running containers, with the time they were read (for rates)."""
        rows = []
        for info in self.runtime.containers():
            if info.labels.get(LABEL_PROJECT) != name or info.status not in ("running", "paused"):
                continue
            cgroup = self.runtime.cgroup(info.id)
            if cgroup is None:
                continue
            try:
                st = cgroup.stats()
            except RuntimeFailure:
                continue
            rows.append({"id": info.id, "name": info.name, "service": info.labels.get(LABEL_SERVICE, ""),
                         "read_at": time.monotonic(), "cpu_usage_ns": st.cpu_usage_ns,
                         "memory_bytes": st.memory_bytes, "memory_limit": st.memory_limit,
                         "pids": st.pids, "pids_limit": st.pids_limit})
        return sorted(rows, key=lambda r: str(r["name"]))

    def list_projects(self) -> list[dict[str, Any]]:
        return [{"name": n, "revision": self.store.current_revision(n), "containers": len(self.ps(n))}
                for n in self.store.projects()]


def _health_view(state: HealthState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"status": state.status, "failing_streak": state.failing_streak,
            "log": [{"start": r.start, "end": r.end, "exit_code": r.exit_code, "output": r.output}
                    for r in state.log]}


def _observed(info: ContainerInfo, stopped_by_user: bool) -> ObservedContainer:
    return ObservedContainer(
        id=info.id,
        name=info.name,
        service=info.labels.get(LABEL_SERVICE, ""),
        number=int(info.labels.get(LABEL_NUMBER, "0") or 0),
        config_hash=info.labels.get(LABEL_HASH, ""),
        status=info.status,
        created_at=info.record.created_at,
        started_at=info.record.started_at,
        exit_code=info.exit_code,
        finished_at=info.finished_at,
        restart_count=info.record.restart_count,
        stopped_by_user=stopped_by_user,
    )
