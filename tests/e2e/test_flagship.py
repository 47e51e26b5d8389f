"""The flagship example as a user runs it: up, answered by several replicas, ps, logs, down, nothing left."""

from __future__ import annotations

import json
import re

import pytest

from runtime.layout import HostLayout
from tests.helpers import free_port, host_address, http_get, pyorch, wait_http

EXAMPLE = "compose-examples/hello-web/compose.yaml"
pytestmark = pytest.mark.root


def test_flagship_example_up_balanced_ps_logs_down(layout: HostLayout) -> None:
    web, api = free_port(), free_port()
    ports = {"WEB_PORT": str(web), "API_PORT": str(api)}
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", EXAMPLE, "up", "-d", **ports)
    try:
        rows = json.loads(pyorch(layout, "-f", EXAMPLE, "ps", "--format", "json", **ports).stdout)
        assert sorted((r["service"], r["status"]) for r in rows) == [
            ("api", "running"), ("web", "running"), ("web", "running"), ("web", "running")]
        assert sorted(r["name"] for r in rows) == ["hello-api-1", "hello-web-1", "hello-web-2", "hello-web-3"]

        status, _ = wait_http(f"http://127.0.0.1:{web}/")
        assert status == 200
        replicas = set()
        for _ in range(30):
            status, body = http_get(f"http://127.0.0.1:{web}/")
            assert status == 200
            replicas.update(re.findall(r"hello from (\w+)", body))
        assert len(replicas) >= 2, f"all requests went to {replicas}"

        status, body = http_get(f"http://{host_address()}:{web}/")
        assert status == 200 and "hello from" in body
        status, _ = wait_http(f"http://127.0.0.1:{api}/")
        assert status == 200

        logs = pyorch(layout, "-f", EXAMPLE, "logs", "api", **ports).stdout
        assert "GET / HTTP" in logs
    finally:
        pyorch(layout, "-f", EXAMPLE, "down", "-t", "5", **ports)
    rows = json.loads(pyorch(layout, "-f", EXAMPLE, "ps", "-a", "--format", "json", **ports).stdout)
    assert rows == []
