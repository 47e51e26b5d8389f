"""Swarm's restart_policy (swarmkit restart supervisor, shared/reference/semantics.md §2) in the planner."""

from __future__ import annotations

import pytest

from orchestrator.planner.converge import ConvergeOptions, plan_project
from orchestrator.planner.model import DesiredService, ObservedContainer, RestartContainer
from orchestrator.planner.swarm_restart import SwarmRestartPolicy, restarts_counted, swarm_should_restart


def test_defaults_are_swarms() -> None:
    policy = SwarmRestartPolicy()
    assert (policy.condition, policy.delay, policy.max_attempts, policy.window) == ("any", 5.0, 0, 0.0)


@pytest.mark.parametrize("bad", [{"condition": "always"}, {"delay": -1.0}, {"max_attempts": -2}, {"window": -5.0}])
def test_invalid_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SwarmRestartPolicy(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("condition", "exit_code", "expected"), [
    ("none", 1, False), ("none", 0, False),
    ("on-failure", 0, False), ("on-failure", 3, True), ("on-failure", -1, True),
    ("any", 0, True), ("any", 137, True),
])
def test_condition(condition: str, exit_code: int, expected: bool) -> None:
    policy = SwarmRestartPolicy(condition=condition)
    assert swarm_should_restart(policy, exit_code, [], 100.0, stopped_by_user=False) is expected


def test_a_container_stopped_by_hand_stays_stopped() -> None:
    assert not swarm_should_restart(SwarmRestartPolicy("any"), 0, [], 100.0, stopped_by_user=True)


def test_max_attempts_without_window_counts_every_restart() -> None:
    policy = SwarmRestartPolicy("on-failure", max_attempts=3)
    assert swarm_should_restart(policy, 1, [1.0, 2.0], 1000.0, False)
    assert not swarm_should_restart(policy, 1, [1.0, 2.0, 3.0], 1000.0, False)


def test_window_counts_only_restarts_shortly_before_the_failure() -> None:
    # failure at 100, window 30: only restarts in [70, 100) count
    assert restarts_counted([10.0, 69.9, 70.0, 99.0, 100.0, 120.0], 100.0, 30.0) == 2
    policy = SwarmRestartPolicy("any", max_attempts=2, window=30.0)
    assert not swarm_should_restart(policy, 1, [75.0, 90.0], 100.0, False)
    assert swarm_should_restart(policy, 1, [10.0, 20.0, 90.0], 100.0, False)  # old ones fell out


def _desired(policy: SwarmRestartPolicy) -> dict[str, DesiredService]:
    return {"job": DesiredService(name="job", replicas=1, config_hash="h", swarm_restart=policy)}


def _exited(code: int, finished_at: float, **kw: object) -> ObservedContainer:
    return ObservedContainer(id="c1", name="p-job-1", service="job", number=1, config_hash="h",
                             status="exited", exit_code=code, started_at=finished_at - 1, finished_at=finished_at,
                             **kw)  # type: ignore[arg-type]


def test_planner_restarts_after_the_fixed_delay_not_docker_backoff() -> None:
    plan = plan_project("p", _desired(SwarmRestartPolicy("any", delay=7.0)), [_exited(1, 50.0)], now=51.0,
                        restart_delays={"c1": 12.8})
    [action] = plan.actions
    assert isinstance(action, RestartContainer)
    assert action.not_before == 57.0 and action.delay == 7.0


def test_planner_explicit_zero_delay_restarts_at_once() -> None:
    plan = plan_project("p", _desired(SwarmRestartPolicy("any", delay=0.0)), [_exited(0, 50.0)], now=51.0)
    [action] = plan.actions
    assert isinstance(action, RestartContainer) and action.not_before == 50.0


def test_planner_stops_after_max_attempts_from_persisted_history() -> None:
    policy = SwarmRestartPolicy("on-failure", delay=0.0, max_attempts=2)
    observed = [_exited(1, 50.0)]
    assert plan_project("p", _desired(policy), observed, now=51.0, restart_history={"c1": [10.0]}).actions
    assert not plan_project("p", _desired(policy), observed, now=51.0, restart_history={"c1": [10.0, 20.0]})


def test_swarm_policy_ignores_docker_unless_stopped_boot_rule() -> None:
    # Docker's `always` brings back a stopped container at engine start; a Swarm policy does not.
    plan = plan_project("p", _desired(SwarmRestartPolicy("any")), [_exited(0, 50.0, stopped_by_user=True)],
                        ConvergeOptions(engine_boot=True), now=51.0)
    assert not plan
