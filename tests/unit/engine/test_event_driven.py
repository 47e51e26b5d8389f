"""Event-driven passes with a slow resync: an exit wakes exactly its project, which is passed over
from what the engine keeps (the exited container read again, nothing else); nothing runs between
events; a resync lists every container again and heals an event that never came."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from orchestrator.engine.observed import ObservedState
from orchestrator.engine.project_ops import UpOptions
from orchestrator.engine.workqueue import Work, WorkQueue
from runtime.container.state import ContainerInfo, ContainerRecord
from tests.unit.engine.fakes import Harness, build

PROJECT = """
name: {name}
services:
  web:
    image: busybox
    deploy:
      replicas: 2
      restart_policy: {{condition: any, delay: 0s}}  # restarted at once, no backoff timer
"""


def up(h: Harness, *names: str) -> None:
    for name in names:
        assert h.engine.ops.up(h.project(PROJECT.format(name=name)), UpOptions())["errors"] == []


def respawns(h: Harness) -> list[str]:
    return [name for call, name in h.runtime.calls if call == "respawn"]


def test_an_exit_event_wakes_only_its_project_and_reads_only_that_container(tmp_path: Path) -> None:
    h = build(tmp_path)
    up(h, "alpha", "beta")
    assert h.engine.queue.take(timeout=0) == Work(resync=True)  # the engine's first pass re-lists
    assert h.engine.queue.take(timeout=0) is None  # idle: no pass until something happens
    reads, calls = h.runtime.reads, len(h.runtime.calls)
    crashed = h.runtime.by_name("alpha-web-2").id
    h.runtime.exit(crashed, 1)
    h.engine.exited({"event": "exit", "id": crashed, "exit_code": 1})
    work = h.engine.queue.take(timeout=0)
    assert work == Work(resync=False, projects=frozenset({"alpha"}))
    h.engine.run_pass(work)
    assert h.runtime.calls[calls:] == [("respawn", "alpha-web-2"), ("start", "alpha-web-2")]
    assert h.runtime.reads == reads  # no listing of every container: the event said which one changed
    assert h.engine.observe().find(crashed) is not None
    assert h.engine.observe().find(crashed).status == "running"  # type: ignore[union-attr]


def test_a_dropped_exit_event_is_healed_by_the_resync(tmp_path: Path) -> None:
    h = build(tmp_path)
    up(h, "alpha")
    h.engine.queue = WorkQueue(resync_s=0.2)
    loop = threading.Thread(target=h.engine.run_loop, daemon=True)
    loop.start()
    try:
        crashed = h.runtime.by_name("alpha-web-1").id
        h.runtime.exit(crashed, 1)  # and the shim's event never reaches the engine
        deadline = time.monotonic() + 0.2 * 100  # generous: a loaded machine, not a timing claim
        while "alpha-web-1" not in respawns(h) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert respawns(h) == ["alpha-web-1"]
    finally:
        h.engine.queue.close()
        loop.join()


def test_the_work_queue_coalesces_wakes_and_resyncs_on_its_period() -> None:
    now = [0.0]
    queue = WorkQueue(resync_s=30.0, clock=lambda: now[0])
    assert queue.take(timeout=0) == Work(resync=True)
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert queue.take(timeout=0) == Work(resync=False, projects=frozenset({"a", "b"}))
    assert queue.take(timeout=0) is None
    queue.add(None)
    assert queue.take(timeout=0) == Work(resync=False, every_project=True)
    now[0] = 30.0
    queue.add("a")  # the resync passes over every project: the wake is part of it
    assert queue.take(timeout=0) == Work(resync=True)
    assert queue.take(timeout=0) is None
    queue.resync()  # asked for (the shim's event stream broke)
    assert queue.take(timeout=0) == Work(resync=True)
    queue.close()
    assert queue.take() is None


def _info(cid: str, status: str) -> ContainerInfo:
    return ContainerInfo(ContainerRecord(id=cid, name=cid, image="busybox", image_id="", created_at=0.0), status,
                         None, None)


def test_no_answer_while_another_thread_reads_a_changed_container_again() -> None:
    """The executor starts a container and touches it; another thread's read (a pass, `ps`) takes
    it and is still reading when the start's own DNS rebuild asks: that answer must wait for the
    read, not give the container as it was before its start (its names would stay out of DNS
    until the next resync: tests/e2e/test_network_traffic.py saw such misses under load)."""
    kernel = {"x": _info("x", "created")}
    reading, go_on = threading.Event(), threading.Event()

    def inspect(cid: str) -> ContainerInfo:
        if threading.current_thread().name == "other-reader":
            reading.set()
            go_on.wait(30)
        return kernel[cid]

    observed = ObservedState(lambda: list(kernel.values()), inspect)
    assert [c.status for c in observed.containers()] == ["created"]
    kernel["x"] = _info("x", "running")
    observed.touch("x")  # the executor's start, done
    other = threading.Thread(target=observed.containers, name="other-reader")
    other.start()
    assert reading.wait(30)
    answers: list[list[str]] = []
    asking = threading.Thread(target=lambda: answers.append([c.status for c in observed.containers()]))
    asking.start()
    asking.join(0.5)  # an answer given meanwhile would be the stale one (none comes: it waits)
    go_on.set()
    other.join()
    asking.join()
    assert answers == [["running"]]


def test_ps_ls_and_stats_are_answered_from_kept_state_without_reading_containers(tmp_path: Path) -> None:
    h = build(tmp_path)
    up(h, "alpha")
    assert len(h.engine.queries.ps("alpha")) == 2  # reads what `up` changed once, as any answer would
    reads, inspects = h.runtime.reads, h.runtime.inspects
    for _ in range(3):
        assert [r["status"] for r in h.engine.queries.ps("alpha")] == ["running", "running"]
        assert h.engine.queries.list_projects() == [{"name": "alpha", "revision": 1, "containers": 2}]
        h.engine.queries.stats("alpha")
    assert (h.runtime.reads, h.runtime.inspects) == (reads, inspects)  # no listing, no container read
    crashed = h.runtime.by_name("alpha-web-1").id
    h.runtime.exit(crashed, 1)
    h.engine.exited({"event": "exit", "id": crashed, "exit_code": 1})
    statuses = [r["status"] for r in h.engine.queries.ps("alpha")]
    assert statuses == ["exited", "running"]  # the event said which one changed: that one is read again
    assert (h.runtime.reads, h.runtime.inspects) == (reads, inspects + 1)


def test_freed_heap_is_released_after_each_resync_not_after_event_passes(tmp_path: Path) -> None:
    h = build(tmp_path)
    released: list[int] = []
    h.engine._after_resync = lambda: released.append(1)  # the daemon's malloc_trim
    up(h, "alpha")
    h.engine.run_pass(Work(resync=False, projects=frozenset({"alpha"})))
    assert released == []
    h.engine.run_pass(Work(resync=True))
    assert released == [1]
