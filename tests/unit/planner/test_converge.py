"""Compose's convergence rules, case by case (shared/reference/semantics.md §5.2–5.5)."""

from __future__ import annotations

import pytest

from orchestrator.planner.converge import (
    ConvergeOptions,
    DependencyCycle,
    dependency_levels,
    plan_project,
    restart_order,
)
from orchestrator.planner.model import (
    CreateContainer,
    DesiredService,
    ObservedContainer,
    RemoveContainer,
    RestartContainer,
    StartContainer,
    StopContainer,
)


def svc(name: str = "web", replicas: int = 1, h: str = "h1", restart: str = "no",
        deps: tuple[str, ...] = ()) -> DesiredService:
    return DesiredService(name=name, replicas=replicas, config_hash=h, restart=restart, depends_on=deps)


def ctr(number: int, h: str = "h1", status: str = "running", service: str = "web", **kw: object) -> ObservedContainer:
    return ObservedContainer(id=f"id{service}{number}", name=f"p-{service}-{number}", service=service,
                             number=number, config_hash=h, status=status, **kw)  # type: ignore[arg-type]


def test_new_service_creates_replicas_numbered_from_one() -> None:
    plan = plan_project("p", {"web": svc(replicas=3)}, [])
    assert [(a.number, a.name) for a in plan.actions if isinstance(a, CreateContainer)] == [
        (1, "p-web-1"), (2, "p-web-2"), (3, "p-web-3")]


def test_second_up_without_change_does_nothing() -> None:
    plan = plan_project("p", {"web": svc(replicas=2)}, [ctr(1), ctr(2)])
    assert not plan


def test_changed_hash_recreates_with_the_same_number() -> None:
    plan = plan_project("p", {"web": svc(h="h2")}, [ctr(1, h="h1")])
    assert plan.actions == [CreateContainer("web", 1, "p-web-1", replaces="idweb1")]


def test_no_recreate_keeps_diverged_containers() -> None:
    plan = plan_project("p", {"web": svc(h="h2")}, [ctr(1, h="h1")], ConvergeOptions(no_recreate=True))
    assert not plan


def test_force_recreate_replaces_up_to_date_containers() -> None:
    plan = plan_project("p", {"web": svc()}, [ctr(1)], ConvergeOptions(force_recreate=True))
    assert plan.actions == [CreateContainer("web", 1, "p-web-1", replaces="idweb1")]


def test_scale_up_takes_max_plus_one_and_never_fills_gaps() -> None:
    plan = plan_project("p", {"web": svc(replicas=3)}, [ctr(1), ctr(4)])
    assert [a.number for a in plan.actions if isinstance(a, CreateContainer)] == [5]


def test_scale_down_removes_highest_numbers() -> None:
    plan = plan_project("p", {"web": svc(replicas=1)}, [ctr(1), ctr(2), ctr(3)])
    removed = sorted(a.id for a in plan.actions if isinstance(a, RemoveContainer))
    assert removed == ["idweb2", "idweb3"]


def test_scale_down_removes_obsolete_before_highest() -> None:
    plan = plan_project("p", {"web": svc(replicas=2, h="new")},
                        [ctr(1, h="old"), ctr(2, h="new"), ctr(3, h="new")])
    removed = [a.id for a in plan.actions if isinstance(a, RemoveContainer)]
    assert removed == ["idweb1"]
    assert not [a for a in plan.actions if isinstance(a, CreateContainer)]


def test_created_container_is_started() -> None:
    plan = plan_project("p", {"web": svc()}, [ctr(1, status="created")])
    assert plan.actions == [StartContainer("idweb1", "p-web-1", "web")]


def test_orphans_removed_only_when_asked() -> None:
    observed = [ctr(1), ctr(1, service="old")]
    assert not plan_project("p", {"web": svc()}, observed)
    plan = plan_project("p", {"web": svc()}, observed, ConvergeOptions(remove_orphans=True))
    assert [a.id for a in plan.actions] == ["idold1"]


@pytest.mark.parametrize(
    ("policy", "exit_code", "restarts", "expected"),
    [
        ("no", 1, 0, False),
        ("always", 0, 5, True),
        ("unless-stopped", 0, 0, True),
        ("on-failure", 0, 0, False),
        ("on-failure", 2, 0, True),
        ("on-failure:3", 2, 2, True),
        ("on-failure:3", 2, 3, False),
    ],
)
def test_exited_containers_follow_the_restart_policy(policy: str, exit_code: int, restarts: int,
                                                     expected: bool) -> None:
    observed = [ctr(1, status="exited", exit_code=exit_code, restart_count=restarts,
                    started_at=100.0, finished_at=101.0)]
    plan = plan_project("p", {"web": svc(restart=policy)}, observed, now=101.0)
    restarts_planned = [a for a in plan.actions if isinstance(a, RestartContainer)]
    assert bool(restarts_planned) is expected
    if expected:
        assert restarts_planned[0].restart_count == restarts + 1


def test_manual_stop_is_not_restarted_even_with_always() -> None:
    observed = [ctr(1, status="exited", exit_code=0, stopped_by_user=True)]
    assert not plan_project("p", {"web": svc(restart="always")}, observed)


def test_restart_delay_doubles_from_the_previous_one() -> None:
    observed = [ctr(1, status="exited", exit_code=1, started_at=100.0, finished_at=101.0)]
    plan = plan_project("p", {"web": svc(restart="always")}, observed, now=101.0,
                        restart_delays={"idweb1": 0.4})
    action = plan.actions[0]
    assert isinstance(action, RestartContainer)
    assert action.delay == pytest.approx(0.8)
    assert action.not_before == pytest.approx(101.8)


def test_restart_delay_resets_after_ten_seconds_up() -> None:
    observed = [ctr(1, status="exited", exit_code=1, started_at=100.0, finished_at=111.0)]
    plan = plan_project("p", {"web": svc(restart="always")}, observed, now=111.0,
                        restart_delays={"idweb1": 12.8})
    action = plan.actions[0]
    assert isinstance(action, RestartContainer)
    assert action.delay == pytest.approx(0.1)


def test_dependencies_come_in_earlier_waves() -> None:
    services = {"web": svc("web", deps=("db",)), "db": svc("db"), "cache": svc("cache")}
    plan = plan_project("p", services, [])
    assert [[a.service for a in wave] for wave in plan.waves] == [["cache", "db"], ["web"]]


def test_dependency_cycle_is_refused() -> None:
    with pytest.raises(DependencyCycle):
        dependency_levels({"a": svc("a", deps=("b",)), "b": svc("b", deps=("a",))})


def test_container_name_overrides_numbered_name() -> None:
    service = DesiredService(name="db", replicas=1, config_hash="h", container_name="mydb")
    plan = plan_project("p", {"db": service}, [])
    assert [a.name for a in plan.actions if isinstance(a, CreateContainer)] == ["mydb"]


@pytest.mark.parametrize("now", [200.0, 260.0, 9999.0])
def test_an_exit_of_unknown_time_is_restarted_now_not_put_off_at_every_pass(now: float) -> None:
    """No exit record (the shim that would have written it was gone): the restart is due at once,
    at every pass, rather than `now + delay`, which moved on with every pass and never came."""
    observed = [ctr(1, status="exited", exit_code=-1, started_at=100.0, finished_at=None)]
    plan = plan_project("p", {"web": svc(restart="on-failure")}, observed, now=now, restart_delays={"idweb1": 0.4})
    (action,) = plan.actions
    assert isinstance(action, RestartContainer) and action.not_before <= now


def test_numbers_vacated_by_a_crash_are_taken_again_first() -> None:
    """A replica whose create (or removal) a crash cut short was collected: its replacement takes its
    number, as an uninterrupted run would have made it, and nothing else is renumbered."""
    plan = plan_project("p", {"web": svc(replicas=3)}, [ctr(2)], vacated={"web": [1]})
    assert [(a.number, a.name) for a in plan.actions if isinstance(a, CreateContainer)] == [
        (1, "p-web-1"), (3, "p-web-3")]
    top = plan_project("p", {"web": svc(replicas=3)}, [ctr(1)], vacated={"web": [3, 2]})
    assert [a.number for a in top.actions if isinstance(a, CreateContainer)] == [2, 3]
    beyond = plan_project("p", {"web": svc(replicas=3)}, [ctr(1)], vacated={"web": [5]})
    assert [a.number for a in beyond.actions if isinstance(a, CreateContainer)] == [5, 6]
    taken = plan_project("p", {"web": svc(replicas=2)}, [ctr(1)], vacated={"web": [1]})
    assert [a.number for a in taken.actions if isinstance(a, CreateContainer)] == [2]


# --- the image a tag points to (Compose's com.docker.compose.image) -----------------------------------

def test_a_container_of_another_image_than_the_pinned_one_is_recreated() -> None:
    desired = DesiredService(name="web", replicas=2, config_hash="h1", image_id="sha256:new")
    plan = plan_project("p", {"web": desired}, [ctr(1, image_id="sha256:old"), ctr(2, image_id="sha256:new")])
    assert plan.actions == [CreateContainer("web", 1, "p-web-1", replaces="idweb1")]


def test_no_pin_compares_hashes_only_and_no_recreate_wins_over_a_new_image() -> None:
    assert not plan_project("p", {"web": svc()}, [ctr(1, image_id="sha256:any")])
    pinned = DesiredService(name="web", replicas=1, config_hash="h1", image_id="sha256:new")
    assert not plan_project("p", {"web": pinned}, [ctr(1, image_id="sha256:old")], ConvergeOptions(no_recreate=True))


def test_a_rolling_service_leaves_its_old_image_replicas_to_the_rollout() -> None:
    rolling = DesiredService(name="web", replicas=1, config_hash="h1", image_id="sha256:new", rolling=True)
    assert not plan_project("p", {"web": rolling}, [ctr(1, image_id="sha256:old")])


# --- up starts what is stopped ----------------------------------------------------------------------------

def test_up_starts_stopped_killed_and_finished_containers_of_its_services_only() -> None:
    observed = [ctr(1, status="exited", exit_code=137, stopped_by_user=True),
                ctr(1, status="exited", exit_code=1, service="migrate"),
                ctr(1, status="exited", exit_code=0, service="other")]
    services = {"web": svc(restart="always"), "migrate": svc("migrate"), "other": svc("other")}
    plan = plan_project("p", services, observed, ConvergeOptions(start_stopped=frozenset({"web", "migrate"})),
                        now=50.0)
    assert sorted((a.name, a.not_before, a.restart_count, a.manual) for a in plan.actions
                  if isinstance(a, RestartContainer)) == [("p-migrate-1", 50.0, 0, True), ("p-web-1", 50.0, 0, True)]


def test_the_background_pass_leaves_a_finished_one_shot_alone() -> None:
    assert not plan_project("p", {"migrate": svc("migrate")}, [ctr(1, status="exited", exit_code=0,
                                                                  service="migrate")])


# --- network_mode: service:X and depends_on restart: true ----------------------------------------------

def test_a_namespace_joiner_is_recreated_with_its_parent() -> None:
    services = {"db": svc("db", h="h2"), "sidecar": DesiredService(name="sidecar", replicas=1, config_hash="s1",
                                                                   depends_on=("db",), network_parent="db")}
    observed = [ctr(1, service="db"), ctr(1, service="sidecar", h="s1", network_parent="iddb1")]
    plan = plan_project("p", services, observed)
    assert plan.waves == [[CreateContainer("db", 1, "p-db-1", replaces="iddb1")],
                          [CreateContainer("sidecar", 1, "p-sidecar-1", replaces="idsidecar1")]]


def test_a_namespace_joiner_whose_parent_container_is_gone_is_recreated() -> None:
    services = {"db": svc("db"), "sidecar": DesiredService(name="sidecar", replicas=1, config_hash="s1",
                                                           depends_on=("db",), network_parent="db")}
    joined_old = [ctr(1, service="db"), ctr(1, service="sidecar", h="s1", network_parent="idreplaced")]
    assert plan_project("p", services, joined_old).actions == [
        CreateContainer("sidecar", 1, "p-sidecar-1", replaces="idsidecar1")]
    joined_current = [ctr(1, service="db"), ctr(1, service="sidecar", h="s1", network_parent="iddb1")]
    assert not plan_project("p", services, joined_current)


def test_a_dependant_with_restart_true_is_stopped_before_and_started_after_its_dependency_is_recreated() -> None:
    services = {"db": svc("db", h="h2"),
                "app": DesiredService(name="app", replicas=2, config_hash="a1", depends_on=("db",),
                                      restart_with=("db",)),
                "worker": svc("worker", h="w1", deps=("db",))}
    observed = [ctr(1, service="db"), ctr(1, service="app", h="a1"), ctr(2, service="app", h="a1", status="exited"),
                ctr(1, service="worker", h="w1")]
    plan = plan_project("p", services, observed, now=7.0)
    assert plan.waves == [
        [StopContainer("idapp1", "p-app-1", "app", "db is recreated")],
        [CreateContainer("db", 1, "p-db-1", replaces="iddb1")],
        [RestartContainer("idapp1", "p-app-1", "app", 7.0, 0, 0.0, manual=True)],
    ]


def test_a_dependant_recreated_itself_is_not_also_restarted() -> None:
    services = {"db": svc("db", h="h2"),
                "app": DesiredService(name="app", replicas=1, config_hash="a2", depends_on=("db",),
                                      restart_with=("db",))}
    plan = plan_project("p", services, [ctr(1, service="db"), ctr(1, service="app", h="a1")])
    assert not [a for a in plan.actions if isinstance(a, StopContainer | RestartContainer)]


def test_restart_takes_restart_true_dependants_along_in_dependency_order() -> None:
    edges = {"db": (), "app": ("db",), "proxy": ("app",), "worker": (), "cache": ()}
    assert restart_order(edges, ["db"]) == [["db"], ["app"], ["proxy"]]
    assert restart_order(edges, ["db"], with_dependants=False) == [["db"]]
    assert restart_order(edges, []) == [["cache", "db", "worker"], ["app"], ["proxy"]]
