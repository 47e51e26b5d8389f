"""`up` as Compose's: a tag moved by a pull or a build recreates (the loop alone does not), `up
--no-recreate` keeps containers for good, stopped and killed containers are started and a one-shot
runs again, `depends_on.restart` and `network_mode: service:X`/`container:X` follow their dependency's
recreation."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.project_ops import UpOptions
from orchestrator.errors import EngineError
from runtime.errors import RuntimeFailure
from tests.unit.engine.fakes import build

WEB = """
name: demo
services:
  web:
    image: busybox
    deploy: {replicas: 2}
"""

STACK = """
name: demo
services:
  db:
    image: db
    restart: always
  migrate:
    image: migrate
    depends_on: {db: {condition: service_started}}
  app:
    image: app
    restart: always
    depends_on:
      migrate: {condition: service_completed_successfully}
      db: {condition: service_started, restart: true}
  sidecar:
    image: sidecar
    network_mode: "service:db"
    restart: always
"""


def test_a_moved_tag_recreates_at_the_next_up_and_not_before(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.engine.ops.up(h.project(WEB), UpOptions())
    before = {n: h.runtime.by_name(n).id for n in h.runtime.names()}
    h.runtime.images.tags["busybox"] = "sha256:rebuilt"  # `pyorch build` or `pull` moved the tag
    h.engine.reconcile_all()
    assert {n: h.runtime.by_name(n).id for n in h.runtime.names()} == before
    h.engine.ops.up(h.project(WEB), UpOptions(no_recreate=True))
    h.engine.reconcile_all()
    assert {n: h.runtime.by_name(n).id for n in h.runtime.names()} == before  # --no-recreate wins, for good
    h.engine.ops.up(h.project(WEB), UpOptions())
    after = {n: h.runtime.by_name(n) for n in h.runtime.names()}
    assert sorted(after) == ["demo-web-1", "demo-web-2"]
    assert all(info.id != before[n] and info.record.image_id == "sha256:rebuilt" for n, info in after.items())
    assert all(info.record.image == "busybox" for info in after.values())  # shown by its name still


def test_up_starts_stopped_and_killed_containers_and_runs_a_one_shot_again(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.exits["migrate"] = 0
    result = h.engine.ops.up(h.project(STACK), UpOptions())
    assert result["errors"] == []
    assert h.runtime.names("exited") == ["demo-migrate-1"]
    h.engine.ops.kill_services("demo", ["app"], 9)
    h.engine.ops.stop_services("demo", ["db"], None)
    h.engine.reconcile_all()  # the loop leaves what the user stopped, and the finished one-shot, alone
    assert sorted(h.runtime.names("exited")) == ["demo-app-1", "demo-db-1", "demo-migrate-1"]
    runs = sum(1 for call in h.runtime.calls if call == ("start", "demo-migrate-1"))
    result = h.engine.ops.up(h.project(STACK), UpOptions())
    assert result["errors"] == []
    assert h.runtime.names("exited") == ["demo-migrate-1"]
    assert sum(1 for call in h.runtime.calls if call == ("start", "demo-migrate-1")) == runs + 1


def test_a_one_shot_that_fails_again_makes_up_fail(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.exits["migrate"] = 1
    first = h.engine.ops.up(h.project(STACK), UpOptions())
    assert any("'migrate' exited with code 1" in e for e in first["errors"])
    second = h.engine.ops.up(h.project(STACK), UpOptions())
    assert any("'migrate' exited with code 1" in e for e in second["errors"])
    h.runtime.exits["migrate"] = 0  # the migration is fixed: the next up runs it and starts the app
    third = h.engine.ops.up(h.project(STACK), UpOptions())
    assert third["errors"] == [] and "demo-app-1" in h.runtime.names("running")


def test_recreating_a_dependency_restarts_its_restart_true_dependants_and_namespace_joiners(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.exits["migrate"] = 0
    h.engine.ops.up(h.project(STACK), UpOptions())
    app, sidecar = h.runtime.by_name("demo-app-1").id, h.runtime.by_name("demo-sidecar-1").id
    h.runtime.calls.clear()
    h.engine.ops.up(h.project(STACK.replace("image: db", "image: db2")), UpOptions())
    calls = h.runtime.calls
    assert calls.index(("stop", "demo-app-1")) < calls.index(("create", "demo-db-1")) \
        < calls.index(("respawn", "demo-app-1"))
    assert h.runtime.by_name("demo-app-1").id == app  # the same container, started again
    assert h.runtime.by_name("demo-sidecar-1").id != sidecar  # recreated: its namespace was the old db's
    assert sorted(h.runtime.names("running")) == ["demo-app-1", "demo-db-1", "demo-sidecar-1"]


def test_verbs_refuse_a_service_the_file_does_not_have(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.exits["migrate"] = 0
    h.engine.ops.up(h.project(STACK + "  toolbox:\n    image: tools\n    profiles: [debug]\n"),
                    UpOptions(services=["db"]))
    for verb in (lambda: h.engine.ops.stop_services("demo", ["nosuch"], None),
                 lambda: h.engine.ops.kill_services("demo", ["db", "nosuch"], 9),
                 lambda: h.engine.ops.start_services("demo", ["nosuch"]),
                 lambda: h.engine.ops.pause_services("demo", ["nosuch"], True),
                 lambda: h.engine.ops.restart_services("demo", ["nosuch"], None)):
        with pytest.raises(EngineError, match=r"^no such service: nosuch$"):
            verb()
    assert h.runtime.names("running") == ["demo-db-1"]  # refused before anything was done
    # the file's other services (left out by `up db`, or by a profile) are known: nothing to do
    assert h.engine.ops.stop_services("demo", ["app", "toolbox"], None) == {"stopped": []}


def test_restart_takes_the_restart_true_dependants_along_after_their_dependency(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.exits["migrate"] = 0
    h.engine.ops.up(h.project(STACK), UpOptions())
    h.runtime.calls.clear()
    result = h.engine.ops.restart_services("demo", ["db"], None)
    # the sidecar joins db's network namespace: Compose makes that a depends_on with restart: true
    assert result == {"restarted": ["demo-db-1", "demo-app-1", "demo-sidecar-1"], "errors": []}
    calls = h.runtime.calls
    assert calls.index(("stop", "demo-db-1")) < calls.index(("respawn", "demo-db-1")) \
        < calls.index(("stop", "demo-app-1")) < calls.index(("respawn", "demo-app-1"))
    assert sorted(h.runtime.names("running")) == ["demo-app-1", "demo-db-1", "demo-sidecar-1"]
    h.runtime.calls.clear()
    assert h.engine.ops.restart_services("demo", ["db"], None, no_deps=True)["restarted"] == ["demo-db-1"]


def test_restart_reports_which_containers_failed_by_their_actions_not_by_their_messages(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """restart told the restarted from the failed by looking for " <name>:" in the error messages:
    a failure whose text named another container took that one off the restarted list."""
    h = build(tmp_path)
    h.engine.ops.up(h.project(WEB), UpOptions())
    respawn = h.runtime.respawn

    def failing(cid: str, restart_count: int, on_pid: object = None) -> object:
        if h.runtime.store[cid].record.name == "demo-web-2":
            raise RuntimeFailure("its network went with demo-web-1: gone")
        return respawn(cid, restart_count, on_pid)  # type: ignore[arg-type]

    monkeypatch.setattr(h.runtime, "respawn", failing)
    result = h.engine.ops.restart_services("demo", ["web"], None)
    assert result["restarted"] == ["demo-web-1"]
    assert len(result["errors"]) == 1 and result["errors"][0].startswith("RestartContainer demo-web-2: ")


def test_up_wait_counts_a_one_shot_another_service_waits_for_as_done_when_it_exited_0(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.exits["migrate"] = 0
    h.engine.ops.up(h.project(STACK), UpOptions())
    ready = h.engine.ops.readiness("demo", [])
    assert ready["state"] == "ok", ready
    assert ready["services"]["migrate"] == {"condition": "service_completed_successfully", "state": "ok",
                                            "detail": ""}
    assert ready["services"]["app"]["condition"] == "running_or_healthy"
    app = h.runtime.by_name("demo-app-1").id
    h.runtime.exit(app, 1)  # as Compose: an exited service fails --wait
    h.engine.exited({"id": app, "exit_code": 1})  # the shim's event
    failed = h.engine.ops.readiness("demo", ["app", "db"])
    assert failed["state"] == "failed" and sorted(failed["services"]) == ["app", "db"]
    assert failed["services"]["app"]["detail"] == "container demo-app-1 exited (1)"


def test_up_wait_fails_on_a_leaf_one_shot_as_compose_does(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.runtime.exits["busybox"] = 0
    h.engine.ops.up(h.project(WEB), UpOptions())
    assert h.engine.ops.readiness("demo", [])["state"] == "failed"  # docker/compose#11774


JOINER = """
name: demo
services:
  db:
    image: db
    restart: always
  peek:
    image: peek
    network_mode: "container:demo-db-1"
    restart: always
"""


@pytest.mark.parametrize("name", ["peek", "app"])
def test_a_container_mode_joiner_is_recreated_with_the_project_container_it_joined(tmp_path: Path,
                                                                                   name: str) -> None:
    """The joiner is planned after the container it joins, in a later wave: in the same wave its
    create raced the parent's recreation (`peek`: it failed now and then with "no running
    container"), and a joiner planned first (`app` sorts before `db`) was never recreated."""
    h = build(tmp_path)
    joiner_file = JOINER.replace("peek:", f"{name}:")
    # `container:NAME` is no dependency (in Compose either): the container it names must run first
    h.engine.ops.up(h.project(joiner_file), UpOptions(services=["db"]))
    h.engine.ops.up(h.project(joiner_file), UpOptions())
    joiner = h.runtime.by_name(f"demo-{name}-1").id
    h.engine.ops.up(h.project(joiner_file), UpOptions())
    assert h.runtime.by_name(f"demo-{name}-1").id == joiner  # nothing changed: nothing recreated
    result = h.engine.ops.up(h.project(joiner_file.replace("image: db", "image: db2")), UpOptions())
    assert result["errors"] == []
    assert h.runtime.by_name(f"demo-{name}-1").id != joiner  # its namespace was the old db container's
    assert sorted(h.runtime.names("running")) == sorted(["demo-db-1", f"demo-{name}-1"])
