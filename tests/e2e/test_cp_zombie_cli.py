"""`pyorch cp` out of a container adopted after its shim died, whose process then ended and is a
zombie its reaper has not collected yet (the host's init reaps re-parented containers when it
likes): the runtime took the zombie for running and cp entered its mount namespace, gone with it
(`/proc/<pid>/ns/mnt: No such file or directory`). A zombie has exited: cp copies from the
stopped container's root. This test makes itself that lazy reaper (PR_SET_CHILD_SUBREAPER)
before the engine starts, so the engine, its shims and the orphaned container re-parent to it."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import time
from pathlib import Path

import pytest

from runtime.container.state import stat_fields
from runtime.layout import HostLayout
from tests.helpers import pyorch, shim_answering, wait_until, write

pytestmark = pytest.mark.root

COMPOSE = """
name: cpzombie
services:
  s:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo kept > /kept.txt; exec sleep 100000"]
"""


def _reap_orphans(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, int(on), 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _state(pid: int) -> str | None:
    fields = stat_fields(pid)
    return fields[0] if fields else None


def _reap_exited_children(deadline_s: float = 10.0, wanted: tuple[int, ...] = ()) -> None:
    """Collect every child that has ended; wait for ``wanted`` ones to end first."""
    end = time.monotonic() + deadline_s
    while any(_state(pid) not in (None, "Z") for pid in wanted) and time.monotonic() < end:
        time.sleep(0.05)
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def test_cp_from_an_adopted_container_that_ended_and_is_not_reaped(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    _reap_orphans(True)
    daemons: list[int] = []
    try:
        pyorch(layout, "image", "bootstrap")  # starts the engine: it and its shim re-parent to this test
        pyorch(layout, "-f", file, "up", "-d")
        row = wait_until(lambda: (r := json.loads(pyorch(layout, "-f", file, "ps", "--format", "json").stdout))
                         and r[0]["status"] == "running" and r[0], "s to run")
        pid = int(row["pid"])
        engine = int((layout.run_root / "engine.pid").read_text())
        old_shim = shim_answering(layout)
        assert old_shim is not None
        daemons += [engine]
        os.kill(old_shim, signal.SIGKILL)
        os.waitpid(old_shim, 0)
        new_shim = wait_until(lambda: (p := shim_answering(layout)) not in (None, old_shim) and p,
                              "a new shim started by the engine", 30.0)
        daemons.append(int(new_shim))
        os.kill(pid, signal.SIGKILL)  # s ends; this test, its reaper now, does not collect it yet
        wait_until(lambda: _state(pid) == "Z", "s to be a zombie")

        copied = pyorch(layout, "-f", file, "cp", "s:/kept.txt", str(tmp_path / "kept.txt"), check=False)
        assert _state(pid) == "Z"  # still not reaped: the copy was of a zombie's container
        assert copied.returncode == 0, copied.stderr
        assert (tmp_path / "kept.txt").read_text() == "kept\n"
    finally:
        _reap_exited_children()  # s's zombie among them
        pyorch(layout, "-f", file, "down", "-t", "0", check=False)
        _reap_orphans(False)
        pyorch(layout, "engine", "stop", check=False)
        shim = shim_answering(layout)
        if shim is not None:
            os.kill(shim, signal.SIGTERM)
        with contextlib.suppress(ChildProcessError):
            _reap_exited_children(wanted=tuple(daemons))
