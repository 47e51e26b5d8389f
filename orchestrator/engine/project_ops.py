"""The project verbs: `up`, `down`, `stop`, `start`, `pause`, `kill`, `rm`, `scale`, `run`, `exec`.

Desired state is written before it is acted on (DESIGN invariant 2): `up`, `scale` and `rm` store
a new revision, then converge. The loop converges whatever is stored, so `rm` writes what it
removed into a new revision (the service wants that many fewer replicas until the next `up`);
otherwise the next pass would simply create the removed containers again. Every verb holds the
project's lock, so it never interleaves with a pass or a rollout step of the same project.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.engine import oneoff
from orchestrator.engine.compose_build import with_build_images
from orchestrator.engine.dependencies import DependencyGate, restart_dependencies, wait_condition
from orchestrator.engine.executor import Executor
from orchestrator.engine.labels import LABEL_NUMBER, Labelled
from orchestrator.engine.observation import Observe
from orchestrator.engine.pins import known_services, selected_services, with_pins
from orchestrator.engine.preflight import Preflight
from orchestrator.engine.projects import ProjectLoader, ProjectLocks
from orchestrator.engine.publishing import Publisher
from orchestrator.engine.queries import Queries
from orchestrator.engine.reconcile import DEPENDENCY_TIMEOUT_S, Reconciler
from orchestrator.engine.selection import select_services, with_scale
from orchestrator.engine.store import Store
from orchestrator.engine.teardown import Teardowns
from orchestrator.errors import EngineError, NoSuchService
from orchestrator.planner.converge import ConvergeOptions, restart_order
from orchestrator.planner.model import Action, Plan, RestartContainer, StartContainer
from orchestrator.spec import Project
from runtime.container.runtime import ExecSession
from runtime.container.state import ContainerInfo
from runtime.errors import RuntimeFailure
from runtime.network import NetworkInfo


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
    # The caller builds missing images itself, showing their progress (the CLI, through the build
    # route): when a service would be built, nothing is done and the answer's `build_first` names
    # them. Most `up`s build nothing, and then this saves the CLI a build request before each.
    builds_by_caller: bool = False


@dataclass(frozen=True)
class OpsParts:
    """What the verbs work with; `daemon.py` wires them (through `Engine`)."""

    store: Store
    loader: ProjectLoader
    locks: ProjectLocks
    executor: Executor
    publisher: Publisher
    reconciler: Reconciler
    preflight: Preflight
    queries: Queries
    observe: Observe  # a fresh listing: a verb never acts on what a missed event left stale
    inspect: Callable[[str], ContainerInfo]
    exec_in: Callable[..., ExecSession]
    networks: Callable[[], list[NetworkInfo]]
    teardowns: Teardowns
    volumes_dir: Path
    wake: Callable[[str], None]  # a pass over the project soon
    gate: DependencyGate


class ProjectOps:
    def __init__(self, parts: OpsParts) -> None:
        self.parts = parts
        self.store = parts.store

    # --- desired state ---------------------------------------------------------------------------
    def up(self, spec: dict[str, Any], options: UpOptions) -> dict[str, Any]:
        p = self.parts
        try:
            spec = with_build_images(spec)  # build-only services get <project>-<service>
            spec = with_scale(spec, options.scale or {})
            wanted = selected_services(spec, options.services or [], options.no_deps)
            in_file = known_services(spec)
            spec = select_services(spec, self.store.current_spec(str(spec.get("name"))),
                                   list(options.services or []), options.no_deps)
            project = Project.model_validate(spec)
        except ValueError as exc:
            raise EngineError(f"invalid project: {exc}") from exc
        unbuilt = p.preflight.unbuilt(project) if options.builds_by_caller else []
        if unbuilt:
            return {"project": project.name, "build_first": unbuilt, "errors": [], "services": sorted(wanted),
                    "containers": [], "warnings": list(project.warnings)}
        p.preflight.check(project, options.pull)
        # The images the selected services' tags name now (after the pulls and builds), as Compose
        # labels its containers: a container of another image is recreated (pins.py).
        spec = with_pins(spec, p.preflight.image_ids(project, wanted), options.no_recreate, in_file)
        project = Project.model_validate(spec)
        with p.locks(project.name):
            revision = self.store.save_revision(project.name, str(project.working_dir), spec)
            p.loader.remember(project, revision)
            self.store.record_event(project.name, "revision", project.name, revision=revision)
            p.executor.release_orphaned_addresses()  # a create whose own release failed (a full disk)
            errors, _ = p.reconciler.converge(project, revision, ConvergeOptions(
                force_recreate=options.force_recreate, no_recreate=options.no_recreate,
                remove_orphans=options.remove_orphans, start_stopped=frozenset(wanted),
            ), wait_for_dependencies=True, stop_timeout=options.timeout, seen=p.observe())
        return {"project": project.name, "revision": revision, "errors": errors,
                "services": sorted(wanted), "containers": p.queries.ps(project.name),
                "warnings": list(project.warnings)}

    def readiness(self, name: str, services: list[str]) -> dict[str, Any]:
        """`up --wait`'s question, as Compose asks it: per service (all when none is named), whether
        it is done (completed, for a one-shot another service waits for; else running, and healthy
        where there is a healthcheck), still waiting, or failed; ``state`` sums them up."""
        loaded = self.parts.loader.load(name)
        if loaded is None:
            raise EngineError(f"project {name!r} is not up")
        project = loaded.project
        chosen = [s for s in services or list(project.services) if s in project.services]
        conditions = {s: wait_condition(project, s) for s in chosen if project.services[s].replicas > 0}
        refused = {r.service: r.message for r in self.store.refusals(name) if r.revision == loaded.revision}
        rows = {}
        for service, (state, detail) in self.parts.gate.states(project, conditions).items():
            if service in refused and state != "ok":
                state, detail = "failed", refused[service]
            rows[service] = {"condition": conditions[service], "state": state, "detail": detail}
        states = {row["state"] for row in rows.values()}
        overall = "failed" if "failed" in states else "waiting" if "waiting" in states else "ok"
        return {"state": overall, "services": rows}

    def scale(self, project: str, replicas: dict[str, int], options: UpOptions) -> dict[str, Any]:
        """`scale SVC=N`: a new revision with other replica counts, converged like `up`."""
        return self.up(with_scale(self._stored(project), replicas), options)

    def check_services(self, project: str, services: Iterable[str]) -> None:
        """Refuse a service the project's file does not have, as Compose does, before anything is
        done; a project that is not up has nothing to refuse against (and nothing to act on)."""
        spec = self.store.current_spec(project)
        if spec is None:
            return
        NoSuchService.refuse_unknown(known_services(spec), services)

    def _stored(self, project: str) -> dict[str, Any]:
        spec = self.store.current_spec(project)
        if spec is None:
            raise EngineError(f"project {project!r} is not up (run `pyorch up` first)")
        return spec

    # --- teardown ---------------------------------------------------------------------------------
    def down(self, name: str, timeout: float | None, remove_volumes: bool = False) -> dict[str, Any]:
        return self.parts.teardowns.down(name, timeout, remove_volumes)

    # --- stop / start -----------------------------------------------------------------------------
    def stop_services(self, project: str, services: list[str], timeout: float | None,
                      containers: Sequence[str] = ()) -> dict[str, Any]:
        """A manual stop: the container stays, and no restart policy brings it back."""
        self.check_services(project, services)
        p = self.parts
        with p.locks(project):
            chosen = [c for c in p.observe().selected(project, services, containers) if c.status == "running"]
            for c in chosen:
                self.store.set_container_flags(c.id, project, True, 0.0)
            list(p.executor.pool.map(lambda c: p.executor.stop(c.id, timeout), chosen))
            self._publish(project)
            for c in chosen:
                self.store.record_event(project, "container-stop", c.name, id=c.id)
        return {"stopped": [c.name for c in chosen]}

    def pause_services(self, project: str, services: list[str], pause: bool) -> dict[str, Any]:
        """Freeze (or thaw) running containers; paused ones leave the published-port set meanwhile."""
        self.check_services(project, services)
        p = self.parts
        wanted = "running" if pause else "paused"
        done, errors = [], []
        with p.locks(project):
            for c in p.observe().selected(project, services):
                if c.status != wanted:
                    continue
                try:
                    p.executor.pause(c.id, pause)
                    done.append(c.name)
                    kind = "container-pause" if pause else "container-unpause"
                    self.store.record_event(project, kind, c.name, id=c.id)
                except RuntimeFailure as exc:
                    errors.append(f"{c.name}: {exc}")
            self._publish(project)
        return {"containers": done, "errors": errors}

    def kill_services(self, project: str, services: list[str], sig: int,
                      containers: Sequence[str] = ()) -> dict[str, Any]:
        """`kill`: a signal to each running container; like Docker, no restart policy brings it back."""
        self.check_services(project, services)
        p = self.parts
        killed = []
        with p.locks(project):
            for c in p.observe().selected(project, services, containers):
                if c.status in ("running", "paused"):
                    # Like moby's killWithSignal: a killed container counts as stopped by hand.
                    self.store.set_container_flags(c.id, project, True, 0.0)
                    p.executor.kill(c.id, sig)
                    killed.append(c.name)
                    self.store.record_event(project, "container-kill", c.name, id=c.id, signal=sig)
        p.wake(project)
        return {"killed": killed}

    def start_services(self, project: str, services: list[str], containers: Sequence[str] = ()) -> dict[str, Any]:
        """Start stopped containers again (same container, new process), resetting their restart count."""
        self.check_services(project, services)
        p = self.parts
        loaded = p.loader.load(project)
        if loaded is None:
            raise EngineError(f"project {project!r} is not up")
        started, errors = [], []
        with p.locks(project):
            for c in p.observe().selected(project, services, containers):
                if c.status != "exited":
                    continue
                self.store.set_container_flags(c.id, project, False, 0.0)
                action = RestartContainer(c.id, c.name, c.service, 0.0, 0, 0.0, manual=True)
                error = p.executor.run(loaded.project, loaded.revision, Plan([[action]]))
                errors += error
                if not error:
                    started.append(c.name)
            p.publisher.publish(loaded.project)
        return {"started": started, "errors": errors}

    def restart_services(self, project: str, services: list[str], timeout: float | None,
                         containers: Sequence[str] = (), no_deps: bool = False) -> dict[str, Any]:
        """`restart` as Compose's: the services (all when none is named) and, unless ``no_deps``,
        the services that depend on them with `restart: true`, level by level in the order of those
        edges; before a level, its `restart: true` dependencies are waited for (their conditions);
        then its containers are stopped and started again, fresh starts as `start`'s.
        ``containers`` narrows the named services (not their dependants) to those replicas."""
        self.check_services(project, services)
        p = self.parts
        loaded = p.loader.load(project)
        if loaded is None:
            raise EngineError(f"project {project!r} is not up")
        spec = loaded.project
        edges = {name: restart_dependencies(svc) for name, svc in spec.services.items()}
        deadline = time.monotonic() + DEPENDENCY_TIMEOUT_S
        restarted: list[str] = []
        errors: list[str] = []
        with p.locks(project):
            for level in restart_order(edges, [s for s in services if s in edges], with_dependants=not no_deps):
                error = p.gate.wait_for(spec, set(level), deadline, restart_only=True)
                if error:
                    errors.append(error)
                    break
                seen = p.observe()
                chosen = [c for name in level for c in seen.selected(project, [name])
                          if not containers or c.name in containers or (services and name not in services)]
                running = [c for c in chosen if c.status == "running"]
                for c in running:
                    self.store.set_container_flags(c.id, project, True, 0.0)  # no restart policy meanwhile
                list(p.executor.pool.map(lambda c: p.executor.stop(c.id, timeout), running))
                actions: list[Action] = [RestartContainer(c.id, c.name, c.service, 0.0, 0, 0.0, manual=True)
                                         for c in chosen if c.status in ("running", "exited")]
                actions += [StartContainer(c.id, c.name, c.service) for c in chosen if c.status == "created"]
                outcomes = p.executor.run_wave(spec, loaded.revision, actions)
                failed = [o.error for o in outcomes if o.error]
                errors += failed
                restarted += [o.action.name for o in outcomes if o.error is None]
                p.publisher.publish(spec)
                if failed:
                    break
        p.wake(project)
        return {"restarted": restarted, "errors": errors}

    def _publish(self, project: str) -> None:
        loaded = self.parts.loader.load(project)
        if loaded is not None:
            self.parts.publisher.publish(loaded.project)

    # --- rm ---------------------------------------------------------------------------------------
    def remove_stopped(self, project: str, services: list[str], stop_first: bool,
                       timeout: float | None, volumes: bool) -> dict[str, Any]:
        """`rm [-s] [-v]`: remove stopped containers of the services; running ones stay unless ``stop_first``."""
        p = self.parts
        spec = self._stored(project)
        self.check_services(project, services)
        removed: list[str] = []
        anonymous: list[str] = []
        with p.locks(project):
            mine = p.observe().selected(project, services)
            if stop_first:
                for c in mine:
                    if c.status in ("running", "paused"):
                        self.store.set_container_flags(c.id, project, True, 0.0)  # no restart meanwhile
                list(p.executor.pool.map(lambda c: p.executor.stop(c.id, timeout), mine))
                mine = [Labelled.of(p.inspect(c.id)) for c in mine]
            doomed = [c for c in mine if c.status in ("exited", "created")]
            gone = Counter(c.service for c in doomed)
            if gone:
                # The revision first (desired state before it is acted on): a crash half way leaves
                # a project that wants fewer replicas, and the loop removes the rest.
                left = {s: max(0, _replicas(spec, s) - n) for s, n in gone.items() if s in spec["services"]}
                revision = self.store.save_revision(project, str(spec.get("working_dir", "")), with_scale(spec, left))
                self.store.record_event(project, "revision", project, revision=revision, reason="rm")
            for c in sorted(doomed, key=lambda c: (c.service, c.number)):  # reported in replica order,
                p.executor.remove_container(project, c.id, c.service)  # not the kept state's order
                removed.append(c.name)
                if volumes:
                    anonymous += self._remove_anonymous_volumes(project, c)
        p.wake(project)
        return {"removed": removed, "volumes": sorted(anonymous)}

    def _remove_anonymous_volumes(self, project: str, c: Labelled) -> list[str]:
        root = self.parts.volumes_dir
        prefix = f"{project}_{c.service}_{c.info.labels.get(LABEL_NUMBER, '')}_anon_"
        removed = []
        if root.exists():
            for path in root.iterdir():
                if path.name.startswith(prefix):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path.name)
        return removed

    # --- run / exec -------------------------------------------------------------------------------
    def run(self, spec: dict[str, Any], project: Project, no_deps: bool, request: oneoff.RunRequest,
            before_start: Callable[[str], None] | None = None) -> ContainerInfo:
        """`run`: the service's dependencies up first (and waited for, like Compose), then the one-off;
        ``spec`` is the loaded project as JSON (`Project.model_dump`), ``project`` its model;
        ``before_start(id)`` runs between the one-off's create and start."""
        p = self.parts
        NoSuchService.refuse_unknown(project.services, [request.service])
        deps = list(project.services[request.service].depends_on or {})
        if deps and not no_deps:
            result = self.up(select_services(spec, self.store.current_spec(project.name), deps, no_deps=False),
                             UpOptions())
            if result["errors"]:
                raise EngineError("dependencies failed: " + "; ".join(result["errors"]))
        p.preflight.build_missing(project, project.services[request.service])
        return oneoff.start_oneoff(p.executor, p.observe(), p.inspect, project,
                                   self.store.current_revision(project.name) or 0, request, before_start)

    def remove_oneoff(self, project: str, cid: str) -> str:
        return oneoff.remove_oneoff(self.parts.executor, self.parts.inspect, project, cid)

    def exec(self, project: str, service: str, index: int, args: list[str], env: list[str],
             user: str | None, workdir: str | None) -> ExecSession:
        container = self.parts.queries.service_container(project, service, index)
        return self.parts.exec_in(container.id, args, env=env, user=user, workdir=workdir)


def _replicas(spec: dict[str, Any], service: str) -> int:
    svc = spec["services"][service]
    deploy = svc.get("deploy") or {}
    if deploy.get("replicas") is not None:
        return int(deploy["replicas"])
    return int(svc["scale"]) if svc.get("scale") is not None else 1
