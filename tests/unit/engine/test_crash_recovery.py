"""What a crash leaves, as the engine's parts see it: DEAD containers collected (their numbers
taken again), a `down` cut short finished by the next pass, an `up` in between cancelling it."""

from __future__ import annotations

import time
from pathlib import Path

from orchestrator.engine.project_ops import UpOptions
from orchestrator.engine.store import Teardown
from runtime.container.state import DEAD
from tests.unit.engine.fakes import build

PROJECT = """
name: demo
services:
  web:
    image: busybox
    ports: ["8080:80"]
    deploy: {replicas: 2}
"""


def test_a_dead_replica_is_collected_and_replaced_under_its_own_number(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.engine.ops.up(h.project(PROJECT), UpOptions())
    dead = h.runtime.by_name("demo-web-1")
    h.runtime.store[dead.id].status = DEAD  # a create cut short by a crash
    h.engine.reconcile_all()
    assert h.runtime.names() == ["demo-web-1", "demo-web-2"]
    assert h.runtime.by_name("demo-web-1").id != dead.id
    assert ("remove", "demo-web-1") in h.runtime.calls
    assert (dead.id, "demo_default") not in h.network.addresses  # its address went with it
    removals = [e for e in h.engine.store.events_since(0) if e.kind == "container-remove"]
    assert [(e.subject, e.detail.get("collected")) for e in removals] == [("demo-web-1", True)]


def test_a_dead_container_is_never_a_replica_nor_published(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.engine.ops.up(h.project(PROJECT), UpOptions())
    dead = h.runtime.by_name("demo-web-2")
    h.runtime.store[dead.id].status = DEAD
    seen = h.engine.relist()  # (what the engine keeps is read again on a resync)
    assert [c.name for c in seen.project("demo")] == ["demo-web-1"]
    assert [c.id for c in seen.dead_of("demo")] == [dead.id]


def test_a_down_cut_short_is_finished_by_the_next_pass(tmp_path: Path) -> None:
    h = build(tmp_path)
    result = h.engine.ops.up(h.project(PROJECT), UpOptions())
    # `down` wrote its intent and the engine died before it removed anything
    h.engine.store.begin_teardown(Teardown("demo", result["revision"], False, time.time()))
    assert h.engine.store.projects() == []
    h.engine.reconcile_all()
    assert h.runtime.names() == []
    assert h.network.networks == {} and h.network.published == {}
    assert h.engine.store.teardowns() == []


def test_an_up_after_a_down_cut_short_keeps_the_project(tmp_path: Path) -> None:
    h = build(tmp_path)
    result = h.engine.ops.up(h.project(PROJECT), UpOptions())
    before = sorted(h.runtime.store)
    h.engine.store.begin_teardown(Teardown("demo", result["revision"], False, time.time()))
    h.engine.ops.up(h.project(PROJECT), UpOptions())  # the project is wanted again: no teardown owed
    assert h.engine.store.teardowns() == []
    h.engine.reconcile_all()
    assert sorted(h.runtime.store) == before  # the containers left over are its replicas, unchanged
