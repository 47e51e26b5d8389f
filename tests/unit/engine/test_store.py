"""The engine store: revisions are kept, the latest is current, events are ordered."""

from __future__ import annotations

from pathlib import Path

from orchestrator.engine.store import Store


def test_revisions_increase_and_all_are_kept(tmp_path: Path) -> None:
    store = Store(tmp_path / "e.db")
    assert store.save_revision("p", "/w", {"v": 1}) == 1
    assert store.save_revision("p", "/w", {"v": 2}) == 2
    assert store.current_spec("p") == {"v": 2}
    assert store.current_revision("p") == 2
    store.forget_project("p")
    assert store.current_spec("p") is None
    assert store.save_revision("p", "/w", {"v": 3}) == 3  # history survives `down`


def test_store_survives_reopen(tmp_path: Path) -> None:
    Store(tmp_path / "e.db").save_revision("p", "/w", {"v": 1})
    reopened = Store(tmp_path / "e.db")
    assert reopened.projects() == ["p"]
    assert reopened.current_spec("p") == {"v": 1}


def test_events_come_back_in_order_and_filtered(tmp_path: Path) -> None:
    store = Store(tmp_path / "e.db")
    store.record_event("a", "start", "a-web-1", id="x")
    store.record_event("b", "start", "b-web-1")
    store.record_event("a", "stop", "a-web-1")
    events = store.events_since(0, "a")
    assert [(e.kind, e.detail) for e in events] == [("start", {"id": "x"}), ("stop", {})]
    assert store.events_since(events[-1].id, "a") == []


def test_container_flags_and_attachments(tmp_path: Path) -> None:
    store = Store(tmp_path / "e.db")
    assert store.container_flags("c1") == (False, 0.0)
    store.set_container_flags("c1", "p", True, 0.4)
    store.set_attachment("c1", "p_default", "10.89.0.2")
    assert store.container_flags("c1") == (True, 0.4)
    assert store.attachments("c1") == {"p_default": "10.89.0.2"}
    store.forget_container("c1")
    assert store.attachments("c1") == {}


def test_restart_history_is_persisted_per_container(tmp_path: Path) -> None:
    store = Store(tmp_path / "e.db")
    store.record_restart("c1", "p", 20.0)
    store.record_restart("c1", "p", 10.0)
    store.record_restart("c2", "p", 5.0)
    reopened = Store(tmp_path / "e.db")
    assert reopened.restart_history("c1") == [10.0, 20.0]
    reopened.forget_restart_history("c1")
    assert reopened.restart_history("c1") == [] and reopened.restart_history("c2") == [5.0]


def test_an_exit_is_recorded_once_as_an_event(tmp_path: Path) -> None:
    store = Store(tmp_path / "e.db")
    assert store.record_exit_once("p", "c1", "p-a-1", 100.0, 3, False)
    assert not Store(tmp_path / "e.db").record_exit_once("p", "c1", "p-a-1", 100.0, 3, False)  # after a restart
    assert store.record_exit_once("p", "c1", "p-a-1", 200.0, 0, True)  # the next exit of the same container
    dies = [e for e in store.events_since(0) if e.kind == "container-die"]
    assert [(e.subject, e.detail["exit_code"], e.detail["oom_killed"]) for e in dies] == [
        ("p-a-1", 3, False), ("p-a-1", 0, True)]


def test_health_is_kept_per_run_and_forgotten_with_the_container(tmp_path: Path) -> None:
    from orchestrator.planner.health import HealthState, ProbeResult, state_from_dict, state_to_dict

    store = Store(tmp_path / "engine.db")
    state = HealthState("healthy", 0, (ProbeResult(1.5, 1.75, 0, "ok\n"),))
    store.save_health("c1", 100.25, state_to_dict(state))
    raw = store.load_health("c1", 100.25)
    assert raw is not None and state_from_dict(raw) == state
    assert store.load_health("c1", 200.0) is None  # restarted since: a new run starts afresh
    store.forget_container("c1")
    assert store.load_health("c1", 100.25) is None
    store.close()
