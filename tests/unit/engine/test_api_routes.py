"""The API's route groups as daemon.py wires them, served on a socket over the engine built from
fakes: each group gets only the parts it names, and a request reaches the part it should."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.cli.client import EngineClient
from orchestrator.engine.api import serve
from orchestrator.engine.daemon import api_routes
from orchestrator.engine.project_ops import UpOptions
from orchestrator.errors import PyorchError
from tests.unit.engine.fakes import Harness, build

WEB = """
name: demo
services:
  web:
    image: busybox
    ports: ["8080:80"]
    deploy: {replicas: 2}
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Harness, EngineClient]]:
    h = build(tmp_path)
    socket_path = h.engine.layout.run_root / "engine.sock"
    thread = threading.Thread(target=serve, args=(api_routes(h.engine), socket_path), daemon=True)
    thread.start()
    client = EngineClient(h.engine.layout.run_root)
    for _ in range(200):
        if socket_path.exists() and client.alive():
            break
        threading.Event().wait(0.01)
    yield h, client
    client.request("POST", "/v1/engine/shutdown", {})
    thread.join(5)


def test_each_group_reaches_its_part(served: tuple[Harness, EngineClient]) -> None:
    h, client = served
    h.engine.ops.up(h.project(WEB), UpOptions())
    rows = client.request("GET", "/v1/projects/demo/ps")
    assert sorted(r["name"] for r in rows) == ["demo-web-1", "demo-web-2"]                # ProjectRoutes
    assert client.request("GET", "/v1/projects/demo/port?service=web&port=80&index=2")["host_port"] == 8080
    assert client.request("GET", "/v1/projects/demo/rollouts") == []                     # RolloutRoutes
    stopped = client.request("POST", "/v1/projects/demo/stop", {"services": ["web"]})
    assert stopped is not None and h.runtime.names("running") == []


def test_a_route_no_group_serves_is_404(served: tuple[Harness, EngineClient]) -> None:
    _, client = served
    with pytest.raises(PyorchError, match=r"no route"):
        client.request("GET", "/v1/projects/demo/nothing-here")
