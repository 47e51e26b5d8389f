"""Rolling-update decisions (Swarm's update_config/rollback_config semantics) as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.planner import rollout as plan
from orchestrator.planner.converge import ConvergeOptions, plan_service
from orchestrator.planner.model import CreateContainer, DesiredService, ObservedContainer, RemoveContainer
from orchestrator.planner.rollout import ReplicaView, RolloutConfig
from orchestrator.spec.model import Deploy, UpdateConfig


def _c(number: int, digest: str, status: str = "running") -> ObservedContainer:
    return ObservedContainer(id=f"id{number}", name=f"p-web-{number}", service="web", number=number,
                             config_hash=digest, status=status, created_at=float(number))


def test_defaults_are_swarms() -> None:
    config = RolloutConfig.from_compose(None)
    assert (config.parallelism, config.delay, config.monitor, config.failure_action, config.max_failure_ratio,
            config.order) == (1, 0.0, 5.0, "pause", 0.0, "stop-first")
    assert RolloutConfig.from_compose(UpdateConfig()) == config


def test_file_values_are_kept_and_a_zero_monitor_means_five_seconds() -> None:
    config = RolloutConfig.from_compose(UpdateConfig.model_validate(
        {"parallelism": 0, "delay": "2s", "monitor": "0s", "failure_action": "rollback",
         "max_failure_ratio": 0.5, "order": "start-first"}))
    assert (config.parallelism, config.delay, config.monitor, config.failure_action, config.max_failure_ratio,
            config.order) == (0, 2.0, 5.0, "rollback", 0.5, "start-first")


def test_only_services_that_ask_for_it_roll() -> None:
    assert not plan.is_rolling(None)
    assert not plan.is_rolling(Deploy(replicas=3))
    assert plan.is_rolling(Deploy(update_config=UpdateConfig()))
    assert plan.is_rolling(Deploy(rollback_config=UpdateConfig(order="start-first")))


def test_dirty_containers_dead_first_then_by_number() -> None:
    containers = [_c(3, "old"), _c(1, "old"), _c(2, "new"), _c(4, "old", "exited")]
    assert [c.number for c in plan.dirty_containers(containers, "new")] == [4, 1, 3]
    assert plan.dirty_containers(containers, "nothing-matches")[0].number == 4
    assert plan.source_hash(plan.dirty_containers(containers, "new")) == "old"


@pytest.mark.parametrize(("parallelism", "dirty", "workers", "shape"), [
    (1, 3, 1, [1, 1, 1]),
    (2, 5, 2, [2, 2, 1]),
    (0, 4, 4, [4]),          # 0 = all at once
    (10, 3, 3, [3]),
    (1, 0, 0, []),
])
def test_parallelism(parallelism: int, dirty: int, workers: int, shape: list[int]) -> None:
    names = [f"c{i}" for i in range(dirty)]
    assert plan.worker_count(parallelism, dirty) == workers
    batches = plan.batches(names, parallelism)
    assert [len(b) for b in batches] == shape
    assert [n for b in batches for n in b] == names


@pytest.mark.parametrize(("failures", "total", "ratio", "action", "triggers"), [
    (1, 3, 0.0, "pause", True),          # default ratio 0: the first failure triggers
    (0, 3, 0.0, "pause", False),
    (1, 3, 0.34, "rollback", False),     # 1/3 is not above 0.34
    (2, 3, 0.34, "rollback", True),
    (1, 2, 0.5, "pause", False),         # equal is not above
    (3, 3, 0.0, "continue", False),      # continue never triggers
])
def test_failure_ratio(failures: int, total: int, ratio: float, action: Any, triggers: bool) -> None:
    config = RolloutConfig(max_failure_ratio=ratio, failure_action=action)
    assert plan.failure_triggers(failures, total, config) is triggers


def test_failure_outcomes_and_never_rolling_back_a_rollback() -> None:
    assert plan.failure_outcome("update", RolloutConfig(failure_action="pause")) == (plan.PAUSED, False)
    assert plan.failure_outcome("update", RolloutConfig(failure_action="rollback")) == (plan.ROLLBACK_STARTED, True)
    assert plan.failure_outcome("rollback", RolloutConfig(failure_action="rollback")) == (plan.ROLLBACK_PAUSED, False)
    assert plan.completed_status("rollback") == plan.ROLLBACK_COMPLETED
    assert plan.active_status("update") == plan.UPDATING


def test_slot_steps_per_order() -> None:
    start = plan.slot_steps("start-first")
    stop = plan.slot_steps("stop-first")
    # start-first: the old replica leaves the balancer only after the new one was admitted
    assert start.index("admit_new") < start.index("drain_old") < start.index("remove_old")
    assert start.index("wait_ready") < start.index("monitor") < start.index("admit_new")
    # stop-first: the old one drains and goes before the new one is created
    assert stop.index("drain_old") < stop.index("remove_old") < stop.index("create_new") < stop.index("admit_new")
    assert sorted(start) == sorted(stop)


@pytest.mark.parametrize(("view", "verdict"), [
    (ReplicaView("running", False, None, False, False), "ready"),
    (ReplicaView("created", False, None, False, False), "pending"),
    (ReplicaView("running", True, None, False, False), "pending"),
    (ReplicaView("running", True, "starting", False, False), "pending"),
    (ReplicaView("running", True, "healthy", False, False), "ready"),
    (ReplicaView("running", True, "unhealthy", False, False), "failed"),
    (ReplicaView("running", True, "starting", False, True), "failed"),    # restarted after going unhealthy
    (ReplicaView("running", False, None, True, False), "failed"),         # it crashed and came back
    (ReplicaView("exited", False, None, False, False), "failed"),
    (ReplicaView("missing", True, None, False, False), "failed"),
])
def test_judging_a_new_replica(view: ReplicaView, verdict: str) -> None:
    assert plan.judge_new_replica(view) == verdict


def test_ready_deadline_follows_the_healthcheck() -> None:
    assert plan.ready_deadline(False) == plan.NO_HEALTHCHECK_READY_S
    deadline = plan.ready_deadline(True, interval=1, timeout=2, retries=3, start_period=10)
    assert deadline == 10 + 4 * 3 + plan.READY_MARGIN_S


def _spec(image: str, replicas: int = 3) -> dict[str, Any]:
    return {"name": "p", "services": {"web": {"image": image, "deploy": {"replicas": replicas}},
                                      "db": {"image": "db"}}}


def _hash(spec: dict[str, Any], service: str) -> str:
    return str(spec["services"][service]["image"])


def test_previous_spec_manual_and_automatic() -> None:
    history = [(1, _spec("v1")), (2, _spec("v2")), (3, _spec("v2", 5)), (4, _spec("v3"))]
    # manual: the newest revision whose service differs from the current one
    assert plan.previous_service_spec(history, "web", "v3", _hash) == (3, _spec("v2", 5)["services"]["web"])
    # a second manual rollback (current v2) goes back to v3: Swarm's swap
    assert plan.previous_service_spec(history, "web", "v2", _hash)[0] == 4  # type: ignore[index]
    # automatic: the version the failed update replaced
    found = plan.previous_service_spec(history, "web", "v3", _hash, wanted_hash="v1")
    assert found == (1, _spec("v1")["services"]["web"])
    assert plan.previous_service_spec(history[:1], "web", "v1", _hash) is None


def test_spec_with_service_keeps_the_current_replicas() -> None:
    restored = plan.spec_with_service(_spec("v3", replicas=5), "web", _spec("v1", replicas=3)["services"]["web"])
    assert restored["services"]["web"] == {"image": "v1", "deploy": {"replicas": 5}}
    assert restored["services"]["db"] == {"image": "db"}


def test_converge_leaves_outdated_replicas_of_a_rolling_service() -> None:
    observed = [_c(1, "old"), _c(2, "old"), _c(3, "new")]
    service = DesiredService(name="web", replicas=3, config_hash="new", rolling=True)
    assert plan_service("p", service, observed, ConvergeOptions(), 0.0, {}) == []
    # Compose's rule without update_config: every outdated replica is recreated at once
    compose = plan_service("p", DesiredService(name="web", replicas=3, config_hash="new"), observed,
                           ConvergeOptions(), 0.0, {})
    assert sorted(a.number for a in compose if isinstance(a, CreateContainer)) == [1, 2]
    # scaling down a rolling service still removes outdated replicas first
    down = plan_service("p", DesiredService(name="web", replicas=1, config_hash="new", rolling=True), observed,
                        ConvergeOptions(), 0.0, {})
    assert sorted(a.id for a in down if isinstance(a, RemoveContainer)) == ["id1", "id2"]


@pytest.mark.parametrize(("key", "value"), [("parallelism", "-1"), ("max_failure_ratio", "1.5"),
                                            ("delay", "-2s"), ("order", "sideways")])
def test_bad_update_config_is_refused_with_file_and_line(tmp_path: Any, key: str, value: str) -> None:
    from orchestrator.spec import ComposeError, LoadOptions, load_project

    path = tmp_path / "compose.yaml"
    path.write_text(f"services:\n  web:\n    image: busybox\n    deploy:\n      update_config:\n"
                    f"        {key}: {value}\n")
    with pytest.raises(ComposeError) as caught:
        load_project(LoadOptions(files=[path], working_dir=tmp_path, environ={}))
    assert f"{path}:6:" in str(caught.value) and key in str(caught.value)


@pytest.mark.parametrize(("before", "dirty", "after"), [
    ((4, 1, 0), 2, (4, 2)),   # the slot in flight when the engine died: replaced, never counted
    ((4, 1, 0), 3, (4, 1)),   # killed between slots: nothing to add
    ((4, 3, 0), 0, (4, 4)),   # the last slot was in flight: completed on resume with every replica
    ((4, 1, 1), 2, (4, 1)),   # a stop-first failure is not an update
    ((4, 1, 0), 5, (6, 1)),   # scaled up meanwhile: the new outdated replicas widen the total
])
def test_a_resumed_rollout_counts_what_is_no_longer_dirty(before: tuple[int, int, int], dirty: int,
                                                          after: tuple[int, int]) -> None:
    total, updated, failed = before
    assert plan.resumed_counts(total, updated, failed, dirty) == after
