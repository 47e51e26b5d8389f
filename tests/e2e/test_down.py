"""`down` leaves nothing behind by the time it returns, with the engine still running.

down lets the kernel delete the veths with the containers' network namespaces (one batch) instead
of one request each, and waits for that; these tests look at the kernel the moment the command
has returned, and once more with a namespace kept alive by another holder.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import free_port, pyorch, wait_http, write

pytestmark = pytest.mark.root

COMPOSE = """
name: downtest
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:${WEB}:80"]
    networks: [front, back]
    deploy: {replicas: 3}
  worker:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    networks: [back]
  quiet:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
    init: false
    stop_grace_period: 1s
networks:
  front: {}
  back: {internal: true}
"""


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines() if ": " in line}


def _traces(layout: HostLayout, containers: list[dict[str, object]], veths: set[str], bridges: set[str]) -> list[str]:
    """Everything of the project the kernel and the state root still hold."""
    traces = [f"link {name}" for name in sorted((veths | bridges) & _links())]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    if layout.nft_table in tables:
        traces.append(f"nft table {layout.nft_table}")
    for c in containers:  # no cgroup directory left also means no process left in one
        for hierarchy in Path("/sys/fs/cgroup").iterdir():  # (the shim's spare cgroups may stay)
            if (hierarchy / layout.cgroup_parent / str(c["id"])).exists():
                traces.append(f"cgroup {hierarchy / layout.cgroup_parent / str(c['id'])}")
        if (layout.containers_dir / str(c["id"])).exists():
            traces.append(f"bundle of {c['name']}")
    with open("/proc/self/mountinfo") as f:
        traces += [f"mount {line.split()[4]}" for line in f if str(layout.state_root) in line.split()[4]]
    return traces


def _inspect(layout: HostLayout, file: str) -> list[dict[str, object]]:
    rows = json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout)
    records = []
    for row in rows:
        record = json.loads((layout.containers_dir / row["id"] / "container.json").read_text())
        records.append({"id": row["id"], "name": row["name"], "pid": record["pid"]})
    return records


def _kernel_names(layout: HostLayout, containers: list[dict[str, object]]) -> tuple[set[str], set[str]]:
    networks = ("downtest_front", "downtest_back", "downtest_default")
    veths = {layout.veth_name(str(c["id"]), n) for c in containers for n in networks}
    bridges = {layout.bridge_name(n) for n in networks}
    return veths & _links(), bridges & _links()


def test_down_returns_with_nothing_left(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    port = free_port()
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d", WEB=str(port))
    wait_http(f"http://127.0.0.1:{port}/")
    containers = _inspect(layout, file)
    veths, bridges = _kernel_names(layout, containers)
    assert len(containers) == 5 and len(veths) == 8 and len(bridges) == 3
    result = pyorch(layout, "-f", file, "down", WEB=str(port))
    assert result.stderr.count("Removed") == 5
    assert _traces(layout, containers, veths, bridges) == []  # the moment down has returned
    assert json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout) == []


def test_down_deletes_a_veth_whose_namespace_is_held_elsewhere(layout: HostLayout, tmp_path: Path) -> None:
    """A namespace kept alive by someone else keeps its veth: down deletes that one itself."""
    file = write(tmp_path, COMPOSE)
    port = free_port()
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d", WEB=str(port))
    containers = _inspect(layout, file)
    veths, bridges = _kernel_names(layout, containers)
    worker = next(c for c in containers if c["name"] == "downtest-worker-1")
    held = os.open(f"/proc/{worker['pid']}/ns/net", os.O_RDONLY)  # the namespace outlives the container
    try:
        pyorch(layout, "-f", file, "down", WEB=str(port))
        assert _traces(layout, containers, veths, bridges) == []
    finally:
        os.close(held)
