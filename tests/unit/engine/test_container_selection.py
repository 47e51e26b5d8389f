"""stop/start of named containers (the dashboard's restart of one replica): only those, and unknown names refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.project_ops import UpOptions
from orchestrator.errors import EngineError
from tests.unit.engine.fakes import build

WEB = """
name: demo
services:
  web:
    image: busybox
    deploy: {replicas: 3}
"""


def test_stop_and_start_one_replica_leave_the_others_running(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.engine.ops.up(h.project(WEB), UpOptions())
    assert h.engine.ops.stop_services("demo", ["web"], None, ["demo-web-2"]) == {"stopped": ["demo-web-2"]}
    assert h.runtime.names("running") == ["demo-web-1", "demo-web-3"]
    h.engine.reconcile_all()   # stopped by hand: the engine leaves it stopped
    assert h.runtime.names("exited") == ["demo-web-2"]
    result = h.engine.ops.start_services("demo", ["web"], ["demo-web-2"])
    assert result == {"started": ["demo-web-2"], "errors": []}
    assert h.runtime.names("running") == ["demo-web-1", "demo-web-2", "demo-web-3"]


def test_a_container_that_is_not_a_replica_of_the_services_is_refused(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.engine.ops.up(h.project(WEB), UpOptions())
    with pytest.raises(EngineError, match="no such container in demo: demo-db-1"):
        h.engine.ops.stop_services("demo", ["web"], None, ["demo-web-1", "demo-db-1"])
    assert h.runtime.names("running") == ["demo-web-1", "demo-web-2", "demo-web-3"]   # nothing was stopped
