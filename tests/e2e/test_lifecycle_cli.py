"""pause, unpause, kill, exec, top, stats, ls, events and version through the CLI, as a user types them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch, wait_until, write

pytestmark = pytest.mark.root

COMPOSE = """
name: lifecycle
services:
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    hostname: apphost
    restart: always
"""


def statuses(layout: HostLayout, file: str) -> list[str]:
    rows = json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout)
    return [str(r["status"]) for r in rows]


def test_pause_unpause_kill_exec_top(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, "-f", file, "up", "-d")
        result = pyorch(layout, "-f", file, "exec", "-T", "app", "sh", "-c", "id; hostname")
        assert "uid=0(root)" in result.stdout and "apphost" in result.stdout
        assert "sleep" in pyorch(layout, "-f", file, "top", "app").stdout

        stats = [json.loads(line) for line in
                 pyorch(layout, "-f", file, "stats", "--no-stream", "--format", "json").stdout.splitlines()]
        assert [s["name"] for s in stats] == ["lifecycle-app-1"] and stats[0]["pids"] >= 2
        assert stats[0]["cpu_percent"] is not None
        assert "lifecycle" in pyorch(layout, "ls", "-q").stdout.split()

        pyorch(layout, "-f", file, "pause", "app")
        assert statuses(layout, file) == ["paused"]
        pyorch(layout, "-f", file, "unpause")
        assert statuses(layout, file) == ["running"]

        # Killed by hand: even `restart: always` leaves it down, as with Docker.
        pyorch(layout, "-f", file, "kill", "-s", "KILL", "app")
        wait_until(lambda: statuses(layout, file) == ["exited"], "the killed container to exit")
        time.sleep(1.5)  # a restart would have come after 100 ms of backoff
        assert statuses(layout, file) == ["exited"]
        bad = pyorch(layout, "-f", file, "kill", "-s", "SIGNOPE", check=False)
        assert bad.returncode == 1 and "unknown signal" in bad.stderr
        assert "pyorch version" in pyorch(layout, "version").stdout
        actions = [json.loads(line)["action"] for line in
                   pyorch(layout, "-f", file, "events", "--json", "--no-follow").stdout.splitlines()]
        assert {"start", "pause", "unpause", "kill"} <= set(actions)
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")
