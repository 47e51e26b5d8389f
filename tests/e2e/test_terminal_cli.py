"""A person at a real terminal (tmux): shells through `exec`, `run` and `attach`, resizing, Ctrl-C,
Ctrl-Z and Ctrl-D reaching the process, exit codes, detaching, an engine restarted mid-session and
a terminal closed under a session."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import REPO, env_for, pyorch, wait_until, write
from tests.terminal import Terminal, terminal

pytestmark = pytest.mark.root

COMPOSE = """
name: term
services:
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    environment: {PS1: "app$$ "}
  console:
    image: pyorch.local/busybox:latest
    command: ["sh"]
    environment: {PS1: "console$$ "}
    tty: true
    stdin_open: true
"""


def cli(file: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator.cli", "-f", file, *args]


def shell_lines(term: Terminal, command: str, expect: str) -> str:
    term.keys(command, "Enter")
    return term.wait_text(expect)


def ps(layout: HostLayout, file: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout)
    return rows


def processes(layout: HostLayout, file: str, service: str) -> list[str]:
    return pyorch(layout, "-f", file, "top", service).stdout.splitlines()


def host_state(layout: HostLayout, file: str, command: str) -> str:
    """The state letter (/proc/PID/stat) of the container process running ``command``; "" if none."""
    for line in processes(layout, file, "app"):
        fields = line.split()
        if line.rstrip().endswith(command) and len(fields) > 2 and fields[1].isdigit():
            try:
                return Path(f"/proc/{fields[1]}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                return ""
    return ""


@pytest.fixture
def project(layout: HostLayout, tmp_path: Path) -> Iterator[str]:
    file = write(tmp_path, COMPOSE)
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", file, "up", "-d")
    yield file
    pyorch(layout, "-f", file, "down", "-t", "1")


def test_exec_gives_a_shell_that_resizes_and_takes_ctrl_c_and_ctrl_z(layout: HostLayout, project: str) -> None:
    with terminal(cli(project, "exec", "app", "sh"), env_for(layout), cwd=str(REPO)) as term:
        term.wait_text("app$")
        shell_lines(term, "tty; stty size", "24 80")
        assert "/dev/pts/0" in term.screen()
        term.resize(100, 30)
        shell_lines(term, "clear; stty size", "30 100")
        term.keys("sleep 300", "Enter")
        wait_until(lambda: any("sleep 300" in line for line in processes(layout, project, "app")), "the sleep")
        term.keys("C-c")
        shell_lines(term, "echo status $?", "status 130")
        term.keys("sleep 301", "Enter")
        wait_until(lambda: any("sleep 301" in line for line in processes(layout, project, "app")), "the sleep")
        term.keys("C-z")
        term.wait_text("Stopped")
        assert host_state(layout, project, "sleep 301") == "T"  # stopped by Ctrl-Z
        term.keys("fg", "Enter")  # job control works: the stopped job comes back to the foreground
        wait_until(lambda: host_state(layout, project, "sleep 301") not in ("T", ""), "the job to run again")
        term.keys("C-c")
        shell_lines(term, "echo again $?", "again 130")
        term.keys("exit 3", "Enter")
        assert term.wait_exit() == 3
    assert not any(line.rstrip().endswith(" sh") for line in processes(layout, project, "app"))


def test_run_interactively_then_ctrl_d(layout: HostLayout, project: str) -> None:
    with terminal(cli(project, "run", "--rm", "app", "sh"), env_for(layout), width=120, height=40,
                  cwd=str(REPO)) as term:
        term.wait_text("app$")
        shell_lines(term, "echo in $(hostname) size $(stty size)", "size 40 120")
        term.keys("C-d")  # end of input on the pty: the shell exits 0
        assert term.wait_exit() == 0
    assert not [r for r in ps(layout, project) if "-run-" in str(r.get("name", ""))]


def test_detach_keys_leave_the_process_running_and_attach_comes_back(layout: HostLayout, project: str) -> None:
    with terminal(cli(project, "attach", "console"), env_for(layout), cwd=str(REPO)) as term:
        term.keys("Enter")
        term.wait_text("console$")
        shell_lines(term, "echo marker-one", "marker-one")
        term.keys("C-p", "C-q")
        assert term.wait_exit() == 0
    assert [r["status"] for r in ps(layout, project) if r["service"] == "console"] == ["running"]
    with terminal(cli(project, "attach", "console"), env_for(layout), width=90, height=20, cwd=str(REPO)) as term:
        term.keys("Enter")
        shell_lines(term, "stty size; exit 4", "")
        assert term.wait_exit() == 4  # the container's exit code
    assert [r["exit_code"] for r in ps(layout, project) if r["service"] == "console"] == [4]
    assert "marker-one" in pyorch(layout, "-f", project, "logs", "console").stdout  # a pty's output is logged


def test_a_session_outlives_an_engine_restart(layout: HostLayout, project: str) -> None:
    with terminal(cli(project, "exec", "app", "sh"), env_for(layout), cwd=str(REPO)) as term:
        term.wait_text("app$")
        pyorch(layout, "engine", "stop")
        time.sleep(0.5)  # the engine is gone; the session never went through it
        shell_lines(term, "echo still typing", "still typing")
        pyorch(layout, "engine", "start")
        shell_lines(term, "exit 5", "")
        assert term.wait_exit() == 5


def test_a_terminal_closed_under_exec_leaves_no_shell(layout: HostLayout, project: str) -> None:
    before = processes(layout, project, "app")
    with terminal(cli(project, "exec", "app", "sh", "-c", "echo ready; exec sleep 600"), env_for(layout),
                  cwd=str(REPO)) as term:
        term.wait_text("ready")
        assert any("sleep 600" in line for line in processes(layout, project, "app"))
    # tmux's server is gone: the CLI was hung up without detaching, so the command is too
    wait_until(lambda: not any("sleep 600" in line for line in processes(layout, project, "app")),
               "the exec'd command to be hung up")
    assert len(processes(layout, project, "app")) == len(before)
