"""pyorch-shim killed with SIGKILL (issue 20, issue 19's "shim death"): the containers keep
running, the engine notices at once, starts a new shim that adopts them (their exits observed
through pidfds, their output read again), no container is duplicated, restart policies apply,
and an exit nobody saw is recorded once, as unknown."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch, shim_answering, wait_until

pytestmark = pytest.mark.root

COMPOSE = """
name: orphans
services:
  w:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo started; exec sleep 100000"]
    init: true
    restart: always
  f:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo started; exec sleep 100000"]
    init: true
    restart: on-failure
"""


def rows(layout: HostLayout, compose: Path) -> dict[str, dict[str, object]]:
    out = pyorch(layout, "-f", str(compose), "ps", "-a", "--format", "json").stdout
    return {str(r["service"]): r for r in json.loads(out)}


def dies(layout: HostLayout) -> list[dict[str, object]]:
    from orchestrator.engine.store import Store

    store = Store(layout.state_root / "engine.db")
    try:
        return [dict(e.detail, subject=e.subject) for e in store.events_since(0, limit=100_000)
                if e.kind == "container-die"]
    finally:
        store.close()


def test_a_killed_shim_is_replaced_and_its_containers_adopted(layout: HostLayout, tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", str(compose), "up", "-d", "--wait")
    try:
        before = rows(layout, compose)
        engine = int((layout.run_root / "engine.pid").read_text())
        old_shim = shim_answering(layout)
        assert old_shim is not None
        os.kill(old_shim, signal.SIGKILL)

        # the engine notices by itself (no CLI verb runs meanwhile) and a new shim answers
        new_shim = wait_until(lambda: (pid := shim_answering(layout)) not in (None, old_shim) and pid,
                              "a new shim started by the engine", 30.0)
        assert int((layout.run_root / "engine.pid").read_text()) == engine
        log = (layout.run_root / "engine.log").read_text()
        assert "pyorch-shim went away" in log

        after = rows(layout, compose)  # the same containers, running: adopted, not duplicated
        assert {s: (r["id"], r["status"], r["pid"]) for s, r in after.items()} == \
               {s: (r["id"], "running", r["pid"]) for s, r in before.items()}

        # their output is read again: a line written to w's stdout now reaches its log
        pyorch(layout, "-f", str(compose), "exec", "w", "sh", "-c", "echo after-the-shim > /proc/1/fd/1")
        wait_until(lambda: "after-the-shim" in pyorch(layout, "-f", str(compose), "logs", "w").stdout,
                   "w's output in its log", 30.0)

        # an exit the new shim watches is recorded with its real status, and restart: always applies
        os.kill(int(str(after["w"]["pid"])), signal.SIGKILL)
        wait_until(lambda: [d for d in dies(layout) if d["subject"] == "orphans-w-1"], "w's container-die", 30.0)
        restarted = wait_until(lambda: (r := rows(layout, compose)["w"])["status"] == "running"
                               and r["restart_count"] == 1 and r, "w restarted", 30.0)
        assert isinstance(restarted, dict) and restarted["id"] == before["w"]["id"]
        (die,) = [d for d in dies(layout) if d["subject"] == "orphans-w-1"]
        assert (die["exit_code"], die.get("unknown")) == (137, None), die

        # stop waits for no exit record that never comes
        pyorch(layout, "-f", str(compose), "stop", "f")
        assert rows(layout, compose)["f"]["status"] == "exited"
        # and the next start works the first time (it failed once with a broken pipe: a pooled
        # connection to the dead shim), in the same shim
        pyorch(layout, "-f", str(compose), "start", "f")
        assert rows(layout, compose)["f"]["status"] == "running"
        assert shim_answering(layout) == new_shim
        # the engine's exit watcher did not spin on the dead shim's socket
        assert (layout.run_root / "engine.log").read_text().count("Connection refused") <= 1
    finally:
        pyorch(layout, "-f", str(compose), "down", "-t", "1")


def test_exits_while_neither_engine_nor_shim_ran_are_recorded_once(layout: HostLayout, tmp_path: Path) -> None:
    """Engine stopped, shim killed, then a container killed: the next engine starts a shim that
    adopts the rest and records that exit (its status if the kernel still has it — a zombie its
    reaper has not collected — else unknown), once; on-failure restarts it."""
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", str(compose), "up", "-d", "--wait")
    try:
        before = rows(layout, compose)
        pyorch(layout, "engine", "stop")
        shim = shim_answering(layout)
        assert shim is not None
        os.kill(shim, signal.SIGKILL)
        wait_until(lambda: shim_answering(layout) is None, "the shim gone", 30.0)
        os.kill(int(str(before["f"]["pid"])), signal.SIGKILL)
        time.sleep(0.5)

        restarted = wait_until(lambda: (r := rows(layout, compose)["f"])["status"] == "running"
                               and r["restart_count"] == 1 and r, "f restarted by on-failure", 30.0)
        assert isinstance(restarted, dict) and restarted["id"] == before["f"]["id"]
        assert rows(layout, compose)["w"]["pid"] == before["w"]["pid"]  # adopted, untouched
        (die,) = [d for d in dies(layout) if d["subject"] == "orphans-f-1"]
        assert die["exit_code"] == 137 or (die["exit_code"], die.get("unknown")) == (-1, True), die
    finally:
        pyorch(layout, "-f", str(compose), "down", "-t", "1")
