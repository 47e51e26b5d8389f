"""A published port's backends are exactly the running replicas of its service that may take new
connections: not stopped, paused or exited ones, not one-off `run` containers, not another
service's or another project's."""

from __future__ import annotations

from pathlib import Path

from orchestrator.engine.oneoff import RunRequest
from orchestrator.engine.project_ops import UpOptions
from orchestrator.spec import LoadOptions, Project, load_project
from tests.unit.engine.fakes import Harness, build

SHOP = """
name: {name}
services:
  web:
    image: busybox
    ports: ["{port}:80"]
    deploy: {{replicas: 3}}
  api:
    image: busybox
    ports: ["{api}:80"]
  worker:
    image: busybox
"""


def up(h: Harness, name: str = "shop", port: int = 8080, api: int = 8081) -> dict[str, str]:
    result = h.engine.ops.up(h.project(SHOP.format(name=name, port=port, api=api)), UpOptions())
    assert result["errors"] == []
    return {c.name: h.network.addresses[(c.id, f"{name}_default")] for c in h.engine.observe().project(name)}


def backends(h: Harness, service: str, project: str = "shop") -> list[str]:
    return sorted(h.network.backends(project, service))


def test_each_published_service_gets_its_running_replicas(tmp_path: Path) -> None:
    h = build(tmp_path)
    ips = up(h)
    assert backends(h, "web") == sorted(ips[f"shop-web-{n}"] for n in (1, 2, 3))
    assert backends(h, "api") == [ips["shop-api-1"]]
    assert "shop/worker" not in h.network.published  # publishes no port


def test_an_exited_replica_leaves_the_port_on_the_next_pass(tmp_path: Path) -> None:
    h = build(tmp_path)
    ips = up(h)
    h.runtime.exit(h.runtime.by_name("shop-web-2").id, 137)
    h.engine.reconcile_all()
    assert backends(h, "web") == sorted([ips["shop-web-1"], ips["shop-web-3"]])


def test_paused_and_stopped_replicas_take_no_new_connection(tmp_path: Path) -> None:
    h = build(tmp_path)
    ips = up(h)
    h.engine.ops.pause_services("shop", ["web"], True)
    assert backends(h, "web") == []
    assert backends(h, "api") == [ips["shop-api-1"]]
    h.engine.ops.pause_services("shop", ["web"], False)
    assert len(backends(h, "web")) == 3
    h.engine.ops.stop_services("shop", ["api"], timeout=None)
    assert backends(h, "api") == []
    h.engine.reconcile_all()  # stopped by hand: no restart policy brings it back
    assert backends(h, "api") == []


def test_one_off_containers_and_other_projects_are_not_backends(tmp_path: Path) -> None:
    h = build(tmp_path)
    ips = up(h)
    other = up(h, "other", 9080, 9081)
    loaded = h.engine.loader.load("shop")
    assert loaded is not None
    project: Project = loaded.project
    spec = project.model_dump(mode="json")
    h.engine.ops.run(spec, project, no_deps=True, request=RunRequest(service="web"))
    h.engine.reconcile_all()
    assert backends(h, "web") == sorted(ips[f"shop-web-{n}"] for n in (1, 2, 3))
    assert backends(h, "web", "other") == sorted(other[f"other-web-{n}"] for n in (1, 2, 3))


def test_a_pass_that_changes_nothing_publishes_the_same_set(tmp_path: Path) -> None:
    h = build(tmp_path)
    up(h)
    before = dict(h.network.published)
    h.engine.reconcile_all()
    assert h.network.published == before


PROFILED = """
name: prof
services:
  web:
    image: busybox
    ports: ["8080:80"]
  dbg:
    image: busybox
    ports: ["8082:80"]
    profiles: [debug]
"""


def with_debug_profile(tmp_path: Path) -> dict[str, object]:
    (tmp_path / "compose.yaml").write_text(PROFILED)
    project = load_project(LoadOptions(files=[tmp_path / "compose.yaml"], working_dir=tmp_path, environ={},
                                       profiles=["debug"]))
    return project.model_dump(mode="json")


def test_a_service_the_revision_no_longer_has_loses_its_port_with_its_last_container(tmp_path: Path) -> None:
    h = build(tmp_path)
    with_debug = with_debug_profile(tmp_path)
    h.engine.ops.up(with_debug, UpOptions())
    assert sorted(h.network.published) == ["prof/dbg", "prof/web"]
    h.engine.ops.up(h.project(PROFILED), UpOptions())  # without the profile: dbg is an orphan, still running
    assert sorted(h.network.published) == ["prof/dbg", "prof/web"]
    h.runtime.exit(h.runtime.by_name("prof-dbg-1").id, 0)
    h.engine.reconcile_all()
    assert sorted(h.network.published) == ["prof/web"]


def test_down_takes_the_ports_of_an_orphan_too(tmp_path: Path) -> None:
    h = build(tmp_path)
    with_debug = with_debug_profile(tmp_path)
    h.engine.ops.up(with_debug, UpOptions())
    h.engine.ops.up(h.project(PROFILED), UpOptions())
    h.engine.ops.down("prof", None)
    assert h.network.published == {}


def test_ps_shows_ports_of_running_containers_only(tmp_path: Path) -> None:
    h = build(tmp_path)
    up(h)
    h.engine.ops.stop_services("shop", ["api"], None)
    rows = {r["name"]: r for r in h.engine.queries.ps("shop")}
    assert rows["shop-api-1"]["status"] == "exited" and rows["shop-api-1"]["ports"] == []
    assert rows["shop-web-1"]["ports"] == ["0.0.0.0:8080->80/tcp"]
