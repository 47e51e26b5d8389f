"""Compose's convergence rules as a pure function: desired services × observed containers → plan.

Rules (docker/compose pkg/compose, see shared/reference/semantics.md §5):
- a container whose config-hash label differs from the service's hash is recreated (same number);
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


def container_name(project: str, service: DesiredService, number: int) -> str:
    return service.container_name or f"{project}-{service.name}-{number}"


def dependency_levels(services: dict[str, DesiredService]) -> list[list[str]]:
    """Topological levels: every service comes after all the services it depends on."""
    remaining = {name: {d for d in svc.depends_on if d in services} for name, svc in services.items()}
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
) -> list[Action]:
    """``history``: per container id, when it was restarted under a Swarm restart policy;
    ``vacated``: numbers new containers take first (see the module's rules)."""
    history = history or {}
    actions: list[Action] = []
    if options.no_recreate:
        obsolete: set[str] = set()
    elif options.force_recreate:
        obsolete = {c.id for c in observed}
    else:
        obsolete = {c.id for c in observed if c.config_hash != service.config_hash}
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
    for level in dependency_levels(services):
        wave: list[Action] = []
        for name in level:
            wave += plan_service(project, services[name], by_service.get(name, []), options, now, delays,
                                 restart_history, vacated.get(name, ()))
        if wave:
            plan.waves.append(wave)
    return plan
