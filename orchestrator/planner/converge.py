"""Compose's convergence rules as a pure function: desired services × observed containers → plan.

Rules (docker/compose pkg/compose, see shared/reference/semantics.md §5):
- a container whose config-hash label differs from the service's hash, or made from another image
  than the one `up` resolved the service's tag to, is recreated (same number); `--no-recreate`
  keeps it, `--force-recreate` recreates every one;
- a container joined to another's network namespace (`network_mode: service:X`) is recreated
  with X, and when the container it joined is gone (Compose HEAD's parentNamespaceRecreated);
- a dependant with `depends_on: {X: {restart: true}}` is stopped before X is recreated and started
  again in its own wave (Compose's stopDependentContainers);
- `up` starts the stopped containers of the services it selects, one-shots that exited included
  (Compose's start phase); the background pass leaves them to their restart policy;
- scale down removes obsolete containers first, then the highest numbers;
- new containers take max(existing number) + 1; numbers are never reused for gaps, except the
  numbers of containers a crash left half created or half removed (``vacated``: they were never,
  or are no longer, anyone's replica), so that recovering from a crash makes the containers an
  uninterrupted run would have made;
- created-but-not-started containers are started; exited ones follow the restart policy;
- services run in depends_on order: a wave per level of the dependency graph;
- a rolling service (deploy.update_config) keeps its outdated replicas: the rollout replaces them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orchestrator.planner.model import (
    Action,
    CreateContainer,
    DesiredService,
    ObservedContainer,
    Plan,
    RemoveContainer,
    RestartContainer,
    StartContainer,
    StopContainer,
    is_outdated,
)
from orchestrator.planner.restart import RestartPolicy, next_delay, should_restart
from orchestrator.planner.swarm_restart import swarm_should_restart


class DependencyCycle(ValueError):
    """depends_on forms a cycle."""


@dataclass(frozen=True)
class ConvergeOptions:
    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    apply_restart_policies: bool = True
    engine_boot: bool = False                # the first pass after the engine started
    # `up`'s selection: their stopped (exited) containers are started now, whatever their policy
    start_stopped: frozenset[str] = frozenset()


def container_name(project: str, service: DesiredService, number: int) -> str:
    return service.container_name or f"{project}-{service.name}-{number}"


def dependency_levels(services: dict[str, DesiredService]) -> list[list[str]]:
    """Topological levels: every service comes after all the services it depends on, and after
    the one whose container's network namespace it joins (`container:NAME` is no dependency, but
    its joiner is planned, and created, once that container is: in the same wave the joiner's
    create raced the parent's recreation, and one planned first missed that it was recreated)."""
    remaining = {name: {d for d in (*svc.depends_on, svc.network_parent) if d and d in services}
                 for name, svc in services.items()}
    levels: list[list[str]] = []
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if not deps)
        if not ready:
            raise DependencyCycle("depends_on cycle between services: " + ", ".join(sorted(remaining)))
        levels.append(ready)
        for name in ready:
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return levels


def order_for_scale(containers: list[ObservedContainer], obsolete: set[str]) -> list[ObservedContainer]:
    """Compose's order: the first ``replicas`` entries are kept, the rest removed."""
    ranked = sorted(containers, key=lambda c: (c.id not in obsolete, -c.number, c.created_at))
    ranked.reverse()
    return ranked


def plan_service(
    project: str,
    service: DesiredService,
    observed: list[ObservedContainer],
    options: ConvergeOptions,
    now: float,
    restart_delays: dict[str, float],
    history: Mapping[str, Sequence[float]] | None = None,
    vacated: Sequence[int] = (),
    parent_recreated: bool = False,
    parent_ids: set[str] | None = None,
) -> list[Action]:
    """``history``: per container id, when it was restarted under a Swarm restart policy;
    ``vacated``: numbers new containers take first (see the module's rules);
    ``parent_recreated``/``parent_ids``: the network parent is recreated in this plan / the ids of
    its containers this plan keeps (None: the service joins no other container's namespace)."""
    history = history or {}
    actions: list[Action] = []
    if options.no_recreate:
        obsolete: set[str] = set()
    elif options.force_recreate or parent_recreated:
        obsolete = {c.id for c in observed}
    else:
        obsolete = {c.id for c in observed if is_outdated(c, service.config_hash, service.image_id)
                    or (parent_ids is not None and c.network_parent and c.network_parent not in parent_ids)}
    ordered = order_for_scale(observed, obsolete)
    keep, extra = ordered[: service.replicas], ordered[service.replicas :]
    for c in extra:
        actions.append(RemoveContainer(c.id, c.name, service.name, "scale down"))
    policy = RestartPolicy.parse(service.restart)
    # A rolling service's outdated replicas are replaced by the rollout runner, paced by
    # update_config; here they are kept running (and restarted) like current ones.
    recreate = set() if service.rolling and not options.force_recreate else obsolete
    for c in keep:
        if c.id in recreate:
            actions.append(CreateContainer(service.name, c.number, container_name(project, service, c.number), c.id))
        elif c.status == "created":
            actions.append(StartContainer(c.id, c.name, service.name))
        elif c.status == "exited" and service.name in options.start_stopped:
            actions.append(RestartContainer(c.id, c.name, service.name, now, 0, 0.0, manual=True))
        elif c.status == "exited" and options.apply_restart_policies and service.swarm_restart is not None:
            swarm = service.swarm_restart
            failed_at = c.finished_at or now
            if swarm_should_restart(swarm, c.exit_code or 0, history.get(c.id, ()), failed_at, c.stopped_by_user):
                not_before = now if c.finished_at is None else failed_at + swarm.delay
                actions.append(RestartContainer(c.id, c.name, service.name, not_before, c.restart_count + 1,
                                                swarm.delay))
        elif c.status == "exited" and options.apply_restart_policies:
            if should_restart(policy, c.exit_code or 0, c.restart_count, c.stopped_by_user, options.engine_boot):
                run_s = max(0.0, (c.finished_at or now) - c.started_at) if c.started_at else 0.0
                delay = next_delay(restart_delays.get(c.id, 0.0), run_s)
                # An exit of unknown time is in the past already: counting the delay from `now`
                # would put the restart off again at every pass, for ever.
                not_before = now if c.finished_at is None else c.finished_at + delay
                actions.append(
                    RestartContainer(c.id, c.name, service.name, not_before, c.restart_count + 1, delay)
                )
    taken = {c.number for c in observed}
    reuse = sorted(set(vacated) - taken)
    next_number = max([*taken, *reuse], default=0) + 1
    missing = service.replicas - len(keep)
    numbers = reuse[:missing] + [next_number + i for i in range(max(0, missing - len(reuse)))]
    for number in numbers:
        actions.append(CreateContainer(service.name, number, container_name(project, service, number)))
    return actions


def plan_project(
    project: str,
    services: dict[str, DesiredService],
    observed: list[ObservedContainer],
    options: ConvergeOptions = ConvergeOptions(),
    now: float = 0.0,
    restart_delays: dict[str, float] | None = None,
    restart_history: Mapping[str, Sequence[float]] | None = None,
    vacated: Mapping[str, Sequence[int]] | None = None,
) -> Plan:
    """``vacated``: per service, the numbers of containers a crash left half made or half removed."""
    delays = restart_delays or {}
    vacated = vacated or {}
    by_service: dict[str, list[ObservedContainer]] = {}
    for c in observed:
        by_service.setdefault(c.service, []).append(c)
    plan = Plan()
    orphans = [c for name, cs in by_service.items() if name not in services for c in cs]
    if options.remove_orphans and orphans:
        plan.waves.append([RemoveContainer(c.id, c.name, c.service, "orphan") for c in orphans])
    levels = dependency_levels(services)
    planned: dict[str, list[Action]] = {}
    recreated: set[str] = set()          # services with containers recreated by this plan
    survivors: dict[str, set[str]] = {}  # per service: its containers this plan neither replaces nor removes
    for level in levels:
        for name in level:
            svc = services[name]
            parent = svc.network_parent if svc.network_parent in services else None
            actions = plan_service(project, svc, by_service.get(name, []), options, now, delays, restart_history,
                                   vacated.get(name, ()), parent_recreated=parent in recreated,
                                   parent_ids=survivors.get(parent) if parent is not None else None)
            gone = {a.replaces for a in actions if isinstance(a, CreateContainer) and a.replaces}
            if gone:
                recreated.add(name)
            gone |= {a.id for a in actions if isinstance(a, RemoveContainer)}
            survivors[name] = {c.id for c in by_service.get(name, []) if c.id not in gone}
            planned[name] = actions
    stops = _stop_dependants(services, by_service, levels, planned, recreated, survivors, now)
    for index, level in enumerate(levels):
        if stops.get(index):
            plan.waves.append(stops[index])
        wave = [a for name in level for a in planned[name]]
        if wave:
            plan.waves.append(wave)
    return plan


def _stop_dependants(services: dict[str, DesiredService], by_service: dict[str, list[ObservedContainer]],
                     levels: list[list[str]], planned: dict[str, list[Action]], recreated: set[str],
                     survivors: dict[str, set[str]], now: float) -> dict[int, list[Action]]:
    """`depends_on: {X: {restart: true}}`: the dependant's running containers this plan keeps are
    stopped in a wave before X's recreation and started again in the dependant's own wave (added to
    ``planned``); returns the stops by the level they precede."""
    level_of = {name: index for index, level in enumerate(levels) for name in level}
    stops: dict[int, list[Action]] = {}
    for name, svc in services.items():
        triggers = [dep for dep in svc.restart_with if dep in recreated]
        if not triggers:
            continue
        before = min(level_of[dep] for dep in triggers)
        for c in by_service.get(name, []):
            if c.status != "running" or c.id not in survivors[name]:
                continue
            stops.setdefault(before, []).append(StopContainer(c.id, c.name, name, f"{triggers[0]} is recreated"))
            planned[name].append(RestartContainer(c.id, c.name, name, now, 0, 0.0, manual=True))
    return stops


def restart_order(restart_edges: Mapping[str, Sequence[str]], selected: Sequence[str],
                  with_dependants: bool = True) -> list[list[str]]:
    """`restart`'s services in the order Compose restarts them: ``selected`` (every service when
    empty) and, unless ``with_dependants`` is off (`--no-deps`), every service that depends on one
    of them with `restart: true`, transitively; levels follow those `restart: true` edges only
    (``restart_edges``: service → the dependencies it has with `restart: true`)."""
    chosen = set(selected or restart_edges)
    if with_dependants:
        grew = True
        while grew:
            more = {name for name, deps in restart_edges.items() if name not in chosen and chosen & set(deps)}
            chosen |= more
            grew = bool(more)
    return dependency_levels({name: DesiredService(name=name, replicas=0, config_hash="",
                                                   depends_on=tuple(d for d in restart_edges.get(name, ())
                                                                    if d in chosen))
                              for name in chosen})
