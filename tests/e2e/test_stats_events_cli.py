"""`stats` and `events` as people use them: live on a terminal, a stream on a pipe, Compose's flags."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import REPO, env_for, pyorch, write
from tests.terminal import terminal

pytestmark = pytest.mark.root

COMPOSE = """
name: watched
services:
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; echo hello from app; while :; do sleep 0.1; done"]
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator.cli", *args]


def _read_lines(proc: subprocess.Popen[str], until: object, timeout: float = 30.0) -> list[str]:
    """Lines of a running command's stdout until ``until(lines)`` holds (the command keeps running)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not until(lines):  # type: ignore[operator]
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            raise AssertionError(f"timed out; read so far: {lines}")
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the command ended ({proc.wait()}); read: {lines}")
        lines.append(line.rstrip("\n"))
    return lines


def _interrupt(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stats_is_live_on_a_terminal_and_a_stream_on_a_pipe(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d")
    try:
        # a terminal: one table redrawn in place, which follows containers that come and go
        with terminal(_cli("-f", file, "stats"), env_for(layout), width=120, height=24, cwd=str(REPO)) as term:
            term.wait_for(lambda s: "watched-app-1" in s and "CPU %" in s, "the stats table")
            pyorch(layout, "-f", file, "scale", "app=2")
            screen = term.wait_text("watched-app-2")
            assert screen.count("CPU %") == 1, screen   # redrawn, not appended
            assert not term.status_file.exists(), screen
            term.keys("C-c")
            assert term.wait_exit() == 0
            assert "Traceback" not in term.screen()

        # a pipe: a table per sample, one after the other, until interrupted
        proc = subprocess.Popen(_cli("-f", file, "stats"), cwd=REPO, env=env_for(layout), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        lines = _read_lines(proc, lambda got: sum("CPU %" in line for line in got) >= 3)
        assert _interrupt(proc) == 0
        tables = "\n".join(lines).split("\n")
        assert sum(line.startswith("watched-app-1 ") or " watched-app-1 " in line for line in tables) >= 2, lines

        # --format json streams one object a container a sample, with Docker's fields
        proc = subprocess.Popen(_cli("-f", file, "stats", "--format", "json"), cwd=REPO, env=env_for(layout),
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        lines = _read_lines(proc, lambda got: len(got) >= 4)
        assert _interrupt(proc) == 0
        rows = [json.loads(line) for line in lines]
        assert {r["Name"] for r in rows} == {"watched-app-1", "watched-app-2"}
        assert all(r["CPUPerc"].endswith("%") and " / " in r["MemUsage"] and int(r["PIDs"]) >= 1 for r in rows)

        # --no-stream prints once and returns; -a adds stopped containers, with zeros
        pyorch(layout, "-f", file, "stop", "app")
        assert "watched-app-1" not in pyorch(layout, "-f", file, "stats", "--no-stream").stdout
        table = pyorch(layout, "-f", file, "stats", "--no-stream", "-a").stdout
        row = next(line for line in table.splitlines() if "watched-app-1" in line)
        assert "0.00%" in row and "0B / 0B" in row, table
        template = pyorch(layout, "-f", file, "stats", "--no-stream", "-a", "--format", "{{.Name}}={{.PIDs}}").stdout
        assert sorted(template.split()) == ["watched-app-1=0", "watched-app-2=0"]
        # nothing running and no -a: the stream ends at once, as Docker's does
        assert "NAME" in subprocess.run(_cli("-f", file, "stats"), cwd=REPO, env=env_for(layout), text=True,
                                        capture_output=True, timeout=30, check=True).stdout
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def test_events_stream_only_what_happens_from_now_unless_since(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d")
    try:
        started_at = time.time()
        time.sleep(0.05)
        proc = subprocess.Popen(_cli("-f", file, "events", "--json"), cwd=REPO, env=env_for(layout), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        time.sleep(1.0)  # connected before the stop (the stream starts from when it connects)
        pyorch(layout, "-f", file, "stop", "app")
        lines = _read_lines(proc, lambda got: any('"stop"' in line for line in got))
        assert _interrupt(proc) == 0
        events = [json.loads(line) for line in lines]
        # the start of `up` happened before: not replayed
        assert next(e["action"] for e in events if e["type"] == "container") in ("stop", "die"), events
        stop = next(e for e in events if e["action"] == "stop")
        assert stop["service"] == "app" and stop["attributes"]["name"] == "watched-app-1" and len(stop["id"]) >= 12
        assert stop["time"].startswith(time.strftime("%Y-"))

        # --since replays from that time, --until ends the stream (both in the past: print and exit)
        replay = pyorch(layout, "-f", file, "events", "--json", "--since", str(started_at - 60),
                        "--until", str(time.time())).stdout.splitlines()
        actions = [json.loads(line)["action"] for line in replay]
        assert "start" in actions and "stop" in actions, replay
        after = pyorch(layout, "-f", file, "events", "--since", str(started_at), "--until", "0s").stdout
        assert " container start " not in after and " container stop " in after, after
        assert "watched-app-1" in after
        # SERVICE narrows the stream; a duration is a time ago
        none = pyorch(layout, "-f", file, "events", "--since", "10m", "--until", "0s", "other").stdout
        assert none == ""
        # --until in the future: stream until then (what happens meanwhile comes), then return by itself
        proc = subprocess.Popen(_cli("-f", file, "events", "--until", str(time.time() + 8)), cwd=REPO,
                                env=env_for(layout), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        time.sleep(1.0)
        pyorch(layout, "-f", file, "start", "app")
        output, _ = proc.communicate(timeout=60)
        # a manual start is a start, as `docker compose start` says (restarts are the restart policy's)
        assert proc.returncode == 0 and " container start " in output, output
        bad = pyorch(layout, "-f", file, "events", "--since", "yesterday", check=False)
        assert bad.returncode == 1 and "invalid time" in bad.stderr
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")
