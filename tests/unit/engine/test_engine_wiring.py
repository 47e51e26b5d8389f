"""The engine, built from its parts over an in-memory runtime: `up` converges, a pass is idle."""

from __future__ import annotations

from pathlib import Path

from orchestrator.engine.project_ops import UpOptions
from tests.unit.engine.fakes import build

TWO_SERVICES = """
name: demo
services:
  db:
    image: busybox
  web:
    image: busybox
    depends_on: [db]
    ports: ["8080:80"]
    deploy: {replicas: 2}
"""


def test_up_creates_the_replicas_and_publishes_them(tmp_path: Path) -> None:
    h = build(tmp_path)
    result = h.engine.ops.up(h.project(TWO_SERVICES), UpOptions())
    assert result["errors"] == []
    assert h.runtime.names("running") == ["demo-db-1", "demo-web-1", "demo-web-2"]
    web = [h.runtime.by_name(f"demo-web-{n}").id for n in (1, 2)]
    assert sorted(h.network.backends("demo", "web")) == sorted(h.network.addresses[(cid, "demo_default")]
                                                              for cid in web)


def test_a_pass_with_nothing_to_do_reads_the_containers_once_and_changes_nothing(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.engine.ops.up(h.project(TWO_SERVICES), UpOptions())
    calls, reads = len(h.runtime.calls), h.runtime.reads
    h.engine.reconcile_all()
    assert h.runtime.calls[calls:] == []
    assert h.runtime.reads - reads == 1
