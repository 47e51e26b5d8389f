"""An attached `up` whose engine went away (killed, crashed, or its test instance torn down) ends
with a clear error, exit 1, and starts no engine: it polled `ps` with the client's autostart, so
a connection refused started a new engine for an instance nobody used any more (its shim, its
warm processes, left behind by a failed test). Compose does the same: an attached `up` whose
daemon went away ends with an error; it never starts one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import REPO, env_for, pyorch, wait_until, write

pytestmark = pytest.mark.root

COMPOSE = """
name: attachedgone
services:
  s:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo up and about; exec sleep 100000"]
"""


def _engine_answers(layout: HostLayout) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            conn.connect(str(layout.run_root / "engine.sock"))
        except OSError:
            return False
    return True


def test_an_attached_up_ends_when_its_engine_is_gone_and_starts_none(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    pyorch(layout, "image", "bootstrap")
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "-f", file, "up"], cwd=REPO,
                            env=env_for(layout), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        def running() -> bool:
            out = pyorch(layout, "-f", file, "ps", "--format", "json").stdout
            return [r["status"] for r in json.loads(out)] == ["running"]

        wait_until(running, "the attached service to run")
        engine = int((layout.run_root / "engine.pid").read_text())
        os.kill(engine, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=60)
        started_one = _engine_answers(layout)  # the up has ended: an engine it started answers by now
    finally:
        if proc.poll() is None:  # left running, it would start its engine again after the teardown
            proc.kill()
            proc.communicate()
        pyorch(layout, "-f", file, "down", "-t", "0", check=False)  # a command of its own starts one
    assert proc.returncode == 1, (proc.returncode, stderr)
    assert "error: the pyorch engine this attached `up` followed is gone" in stderr, stderr
    assert "up and about" in stdout
    assert not started_one
