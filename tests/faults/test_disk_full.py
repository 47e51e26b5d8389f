"""The filesystem of pyorch's state fills up while a project runs, then space comes back.

The state root is a small tmpfs mounted for the test and filled to the last page. Meanwhile:
the shim lives on (output it cannot log is counted and dropped; an exit is recorded in the room
reserved for it), the engine refuses new work with an error that names the full filesystem and
answers reads, every container keeps running and serving. Once space is freed everything
recovers by itself: the log says what it dropped (and an event), a container killed meanwhile
is restarted, the refused `up` goes through. SQLite's integrity check passes, `down` leaves
nothing.

Then the disk fills at ten seeded crash points of an `up` (``PYORCH_CRASH_DO=fill:…``: the
engine fills the filesystem itself at its Nth point and goes on): the `up` ends with that error
or succeeds, nothing dies; once space is back a second `up` converges and `down` leaves nothing.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.faults import fill
from runtime.gc import stop_daemons
from runtime.layout import HostLayout
from tests.faults import census, harness, scenario
from tests.helpers import free_port, http_get, pyorch, wait_http, wait_until

pytestmark = [pytest.mark.root, pytest.mark.faults]

TMPFS_SIZE = "48m"
PROJECT = """
name: full
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:${PORT}:80"]
    healthcheck:
      test: ["CMD", "test", "-s", "/www/index.html"]
      interval: 300ms
  chatty:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "i=0; while true; do echo line $$i; i=$$((i+1)); sleep 0.02; done"]
  victim:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
    restart: "no"
  keeper:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
    restart: always
"""


@pytest.fixture
def small_root(layout: HostLayout) -> Iterator[HostLayout]:
    """``layout`` with its state root on a tmpfs of its own (the images stay shared, outside it)."""
    images = os.readlink(layout.state_root / "images")
    harness.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "pyorch-full", str(layout.state_root)])
    try:
        (layout.state_root / "images").symlink_to(images)
        yield layout
    finally:
        stop_daemons(layout)
        if harness.run(["umount", str(layout.state_root)], check=False).returncode != 0:
            harness.run(["umount", "-l", str(layout.state_root)])  # something leaked: the leak check says what


def _row(layout: HostLayout, service: str) -> dict[str, object]:
    (row,) = [r for r in harness.ps(layout, "full") if r["service"] == service]
    return row


def _kill_pid1(layout: HostLayout, service: str) -> int:
    """SIGKILL a container's PID 1 from outside (a crash pyorch did not ask for); its pid."""
    pid = int(str(_row(layout, service)["pid"]))
    os.kill(pid, signal.SIGKILL)
    return pid


def _log(layout: HostLayout, file: str, env: dict[str, str], service: str) -> str:
    return pyorch(layout, "-f", file, "logs", "--no-log-prefix", service, **env).stdout


def _events(layout: HostLayout) -> list[dict[str, object]]:
    head, _, body = harness.api(layout, "GET", "/v1/events?follow=0").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return [json.loads(line) for line in body.splitlines() if line.strip().startswith(b"{")]


def test_a_full_disk_is_survived_and_recovered(small_root: HostLayout, tmp_path: Path) -> None:
    layout = small_root
    file, port = str(tmp_path / "compose.yaml"), free_port()
    Path(file).write_text(PROJECT)
    env = {"PORT": str(port)}
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d", "--wait", **env)
    filler = layout.state_root / "filler"
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        engine, shim = harness.engine_pid(layout), census.shim_pid(layout)
        fill(filler)
        assert os.statvfs(layout.state_root).f_bfree == 0

        # New work is refused, before it starts, with the filesystem named; nothing is changed.
        refused = pyorch(layout, "-f", file, "up", "-d", "--scale", "web=2", check=False, **env)
        assert refused.returncode != 0
        assert "no space left on the filesystem at " + str(layout.state_root) + " (tmpfs" in refused.stderr, \
            refused.stderr
        assert "internal error" not in refused.stderr and "Traceback" not in refused.stderr

        # What runs keeps running, and crashes are recorded: an exit in the room reserved for it.
        victim_pid = _kill_pid1(layout, "victim")
        keeper_pid = _kill_pid1(layout, "keeper")
        wait_until(lambda: _row(layout, "victim")["status"] == "exited", "the victim's exit to be seen")
        assert _row(layout, "victim")["exit_code"] == 137
        time.sleep(1.0)  # chatty writes ~50 lines a second that have no room; probes run and save nothing
        assert http_get(f"http://127.0.0.1:{port}/")[1].strip() == "ok"
        assert _row(layout, "web")["status"] == "running" and _row(layout, "chatty")["status"] == "running"
        assert harness.engine_pid(layout) == engine and census.shim_pid(layout) == shim
        # Reads answer: ps (above), logs, events, ls.
        assert "line " in _log(layout, file, env, "chatty")
        assert _events(layout)
        assert "full" in pyorch(layout, "ls").stdout
        shim_log = (layout.run_root / "shim.log").read_text(errors="replace")
        assert "no space left on device; dropping output" in shim_log, shim_log[-2000:]

        filler.unlink()  # space comes back: everything recovers by itself
        wait_until(lambda: _row(layout, "keeper")["status"] == "running"
                         and _row(layout, "keeper")["pid"] != keeper_pid,
                         "the killed `restart: always` container to run again",
                         detail=lambda: (_row(layout, "keeper"), harness.engine_log(layout)))
        wait_until(lambda: "of output dropped since" in _log(layout, file, env, "chatty"),
                         "chatty's log to say what it dropped")
        dropped = [e for e in _events(layout) if e["kind"] == "container-log-dropped"]
        assert dropped and int(str(dict(dropped[0]["detail"])["lines"])) > 0, dropped  # type: ignore[call-overload]
        lines = [int(line.split()[-1]) for line in _log(layout, file, env, "chatty").splitlines()
                 if line.startswith("line ")]
        assert lines == sorted(lines) and lines[-1] > lines[0]  # in order, with a gap, and going on
        assert _row(layout, "victim")["exit_code"] == 137 and victim_pid
        pyorch(layout, "-f", file, "up", "-d", "--scale", "web=2", **env)  # (--wait: the victim exited)
        assert sorted((str(r["name"]), r["status"]) for r in harness.ps(layout, "full") if r["service"] == "web") \
            == [("full-web-1", "running"), ("full-web-2", "running")]
        assert census.integrity(layout) == "ok"
    finally:
        filler.unlink(missing_ok=True)
        pyorch(layout, "-f", file, "down", "-t", "0", **env)
    assert harness.leftovers(layout) == []
    assert census.integrity(layout) == "ok"


def test_disk_full_at_seeded_points_of_up(small_root: HostLayout, tmp_path: Path) -> None:
    layout = small_root
    file, port = scenario.write(tmp_path), free_port()
    env = {"PORT": str(port)}
    filler = layout.state_root / "filler"
    pyorch(layout, "image", "bootstrap")
    try:
        trace = tmp_path / "up.trace"
        harness.restart_engine(layout, PYORCH_CRASH_TRACE=str(trace))
        pyorch(layout, "-f", file, "up", "-d", **env)
        points = trace.read_text().splitlines()  # (`up`'s only)
        pyorch(layout, "-f", file, "down", "-t", "0", **env)
        chosen = harness.kill_points(len(points), "disk full")
        assert len(chosen) == harness.KILLS_PER_SCENARIO, points
        for trial, at in enumerate(chosen):
            where = f"trial {trial}: the disk filled at point {at} ({points[at - 1]}) of `up`"
            engine = harness.restart_engine(layout, PYORCH_CRASH_AT=str(at), PYORCH_CRASH_DO=f"fill:{filler}")
            shim = census.shim_pid(layout)
            result = pyorch(layout, "-f", file, "up", "-d", check=False, **env)
            assert filler.exists(), where  # the point was reached: the disk is full
            if result.returncode != 0:
                assert f"no space left on the filesystem at {layout.state_root} (tmpfs" in result.stderr, \
                    (where, result.stderr)
            assert "internal error" not in result.stderr and "Traceback" not in result.stderr, (where, result.stderr)
            assert harness.engine_pid(layout) == engine and census.shim_pid(layout) == shim, where
            harness.ps(layout, "faults")  # reads answer
            filler.unlink()
            pyorch(layout, "-f", file, "up", "-d", **env)
            assert scenario.differences(layout, scenario.EXPECTED) == [], (where, result.stderr)
            wait_http(f"http://127.0.0.1:{port}/")
            pyorch(layout, "-f", file, "down", "-t", "0", **env)
            assert harness.leftovers(layout) == [], where
            assert census.integrity(layout) == "ok", where
    finally:
        filler.unlink(missing_ok=True)
        pyorch(layout, "-f", file, "down", "-t", "0", **env)
    assert harness.leftovers(layout) == []
