"""`--index N` picks one replica for stop, start, restart, kill and logs, as Compose's flag does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch, wait_until, write

pytestmark = pytest.mark.root

COMPOSE = """
name: indexed
services:
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo I am $$HOSTNAME; trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    deploy: {replicas: 2}
"""


def states(layout: HostLayout, file: str) -> dict[int, str]:
    rows = json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout)
    return {int(r["number"]): str(r["status"]) for r in rows}


def test_index_picks_one_replica(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, "-f", file, "up", "-d")
        assert states(layout, file) == {1: "running", 2: "running"}
        pyorch(layout, "-f", file, "stop", "--index", "2", "app")
        assert states(layout, file) == {1: "running", 2: "exited"}
        pyorch(layout, "-f", file, "start", "--index", "2", "app")
        assert states(layout, file) == {1: "running", 2: "running"}
        pyorch(layout, "-f", file, "kill", "--index", "1", "app")
        wait_until(lambda: states(layout, file) == {1: "exited", 2: "running"}, "replica 1 killed")
        pyorch(layout, "-f", file, "restart", "--index", "1", "app")
        assert states(layout, file) == {1: "running", 2: "running"}
        logs = pyorch(layout, "-f", file, "logs", "--index", "2", "app").stdout.splitlines()
        assert logs and all(line.startswith("indexed-app-2  | I am ") for line in logs)
        missing = pyorch(layout, "-f", file, "stop", "--index", "3", "app", check=False)
        assert missing.returncode == 1 and "no container with index 3" in missing.stderr
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")
