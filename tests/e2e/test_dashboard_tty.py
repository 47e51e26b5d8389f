"""The interactive dashboard in a real terminal (tmux, 80×24 as over SSH): select, logs, restart, quit."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import REPO, env_for, pyorch, write
from tests.terminal import Terminal, terminal

pytestmark = pytest.mark.root

COMPOSE = """
name: board
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; echo web says hello from $$(hostname); while :; do sleep 0.2; done"]
    deploy:
      replicas: 2
  db:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
"""


def _selected(screen: str) -> str:
    """The NAME cell of the selected row (marked ▶, also without colours)."""
    line = next((line for line in screen.splitlines() if line.startswith("▶ ")), "")
    return line[2:].split("  ")[0].strip()


def _select(term: Terminal, name: str) -> str:
    """Move down until the selected row is ``name`` (`web`, `└ web-2`)."""
    for _ in range(10):
        screen = term.screen()
        current = _selected(screen)
        if current == name:
            return screen
        term.keys("Down")
        term.wait_for(lambda s, was=current: _selected(s) != was, "the selection to move", 10)
    raise AssertionError(f"no row {name!r}:\n{term.screen()}")


def _pid(screen: str, container: str) -> int | None:
    """The pid the details line shows for ``container`` (None while it has no process)."""
    match = re.search(rf"^{container}  id \w+  pid (\d+)", screen, re.MULTILINE)
    return int(match.group(1)) if match else None


def test_select_logs_restart_and_quit_in_a_terminal(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d")
    command = [sys.executable, "-m", "orchestrator.cli", "-f", file, "dashboard"]
    stty = tmp_path / "stty-after"
    try:
        with terminal(command, env_for(layout), 80, 24, cwd=str(REPO), after=f"stty -a > {stty}") as term:
            # a frame is drawn top to bottom: wait for all of it (the keys are on screen)
            term.wait_for(lambda s: "└ web-2" in s and "r restart" in s and "q quit" in s, "the first frame")
            assert term.pane("alternate_on") == "1"

            # the service: its logs pane shows what each replica printed
            _select(term, "web")
            term.keys("Enter")
            term.wait_for(lambda s: "logs · service web" in s and "web-1 | web says hello from" in s
                          and "web-2 | web says hello from" in s, "the logs of both replicas")

            # one container: its own logs, then a restart that gives it new processes and leaves its sibling be
            screen = _select(term, "└ web-2")
            term.keys("Enter")
            term.wait_for(lambda s: "logs · board-web-2" in s and "web says hello" in s, "web-2's logs")
            before = _pid(term.wait_for(lambda s: _pid(s, "board-web-2") is not None, "web-2's pid"), "board-web-2")
            term.keys("Up")
            sibling = _pid(term.wait_for(lambda s: _pid(s, "board-web-1") is not None, "web-1's pid"), "board-web-1")
            term.keys("Down")
            term.wait_text("board-web-2  id")
            term.keys("r")
            assert "Restart board-web-2?" in term.wait_text("Restart board-web-2?")
            term.keys("y")
            term.wait_text("restarted board-web-2")
            screen = term.wait_for(lambda s: _pid(s, "board-web-2") not in (None, before), "a new pid for web-2")
            assert "restarted board-web-2," not in screen.splitlines()[0]   # it alone
            term.keys("Up")
            assert _pid(term.wait_for(lambda s: _pid(s, "board-web-1") is not None, "web-1's pid"),
                        "board-web-1") == sibling   # untouched
            rows = {row["name"]: row for row in _ps(layout, file)}
            assert rows["board-web-2"]["pid"] != before and rows["board-web-1"]["pid"] == sibling

            # e: the dashboard gives the terminal to `pyorch exec board-web-1 sh` (a TTY: exec's stdin is
            # the terminal) and comes back when the shell is told to exit
            def back(s: str) -> bool:   # the whole frame drawn again, keys included
                return "back from the shell in board-web-1" in s and "q quit" in s

            def prompt(s: str) -> bool:  # tmux drops the blank after "/ #"
                return any(line.rstrip().endswith("/ #") for line in s.splitlines())

            term.keys("e")
            term.wait_for(prompt, "the shell")
            term.keys("hostname", "Enter")
            term.wait_for(lambda s: s.count("/ #") >= 2, "the shell's answer and its next prompt")
            term.keys("exit", "Enter")
            term.wait_for(back, "the dashboard again")
            assert term.pane("alternate_on") == "1"

            # a larger terminal: the frame grows and more columns appear
            term.resize(200, 60)
            screen = term.wait_for(lambda s: "ROLLOUT" in s, "the wide layout")
            assert len(screen.splitlines()) > 24

            # q: the shell's screen and terminal modes come back
            term.keys("q")
            assert term.wait_exit() == 0
            assert term.pane("alternate_on") == "0"
            modes = set(stty.read_text().split())
            assert {"icanon", "echo", "isig", "iexten", "ixon", "icrnl"} <= modes, modes
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def _ps(layout: HostLayout, file: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout)
    return rows


TICKER = """
name: again
services:
  ticker:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while :; do i=$$((i+1)); echo tick $$i; sleep 0.3; done"]
    environment: {VERSION: "%s"}
"""


def _ticks(screen: str) -> list[int]:
    """The tick numbers the logs pane shows, top to bottom."""
    return [int(n) for n in re.findall(r"\| tick (\d+)\b", screen)]


def _version(layout: HostLayout, file: str) -> str:
    return pyorch(layout, "-f", file, "exec", "-T", "ticker", "sh", "-c", "echo $VERSION", check=False).stdout.strip()


def _until(check: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_streams_come_back_after_an_engine_restart_and_b_rolls_back(layout: HostLayout, tmp_path: Path) -> None:
    """The logs pane follows again once a restarted engine is back, without repeating what it showed;
    `b` then `y` rolls a service back to its previous configuration through the API."""
    file = write(tmp_path, TICKER % "1")
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d")
    command = [sys.executable, "-m", "orchestrator.cli", "-f", file, "dashboard"]
    try:
        with terminal(command, env_for(layout), 80, 24, cwd=str(REPO)) as term:
            term.wait_for(lambda s: "└ ticker-1" in s and "q quit" in s, "the first frame")
            _select(term, "ticker")
            term.keys("Enter")
            before = _ticks(term.wait_for(lambda s: len(_ticks(s)) >= 2, "ticks in the logs pane"))

            engine = int((layout.run_root / "engine.pid").read_text())
            os.kill(engine, signal.SIGTERM)  # the engine only: the container keeps running under the shim
            term.wait_text("reconnecting")
            pyorch(layout, "-f", file, "ps")  # starts an engine again, as any command does
            screen = term.wait_for(lambda s: "following again" in s and max(_ticks(s), default=0) > max(before) + 3,
                                   "the pane to follow the new engine", 60)
            ticks = _ticks(screen)
            assert ticks == sorted(set(ticks)), f"lines repeated or out of order after the reconnect:\n{screen}"

            # an update (its previous configuration kept), then `b`, `y`: the rollback goes through the API
            write(tmp_path, TICKER % "2")
            pyorch(layout, "-f", file, "up", "-d")
            pyorch(layout, "-f", file, "rollout", "status", "--wait")
            assert _version(layout, file) == "2"
            _select(term, "ticker")
            term.keys("b")
            term.wait_text("Roll back")
            term.keys("y")
            term.wait_text("rollback of ticker started")
            _until(lambda: _version(layout, file) == "1", "the rollback to VERSION=1")
            term.keys("q")
            assert term.wait_exit() == 0
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")
