"""Collect everything one pyorch instance created in the kernel, by name (DESIGN invariant 4).

`stop_daemons` ends the engine and the shim (containers keep running). `purge_instance` then
removes all the rest: container processes (through their cgroups), cgroups, bridges, veths,
nftables table and state. Used by `pyorch system reset` and by the test suite's safety net.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from runtime.cgroups import open_cgroups
from runtime.container.shim_client import stop_shim
from runtime.layout import HostLayout
from runtime.network import NetworkManager


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it if it happens to be our child
        except ChildProcessError:
            pass
        time.sleep(0.01)
    return False


def stop_engine(layout: HostLayout, timeout: float = 10.0) -> None:
    pid_file = layout.run_root / "engine.pid"
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return
    if not _wait_gone(pid, timeout):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 2.0)
    pid_file.unlink(missing_ok=True)


def stop_daemons(layout: HostLayout) -> None:
    stop_engine(layout)
    stop_shim(layout.run_root)


def purge_instance(layout: HostLayout) -> None:
    stop_daemons(layout)
    cgroups = open_cgroups(layout)
    for name in cgroups.list():
        cgroup = cgroups.open(name)
        if cgroup is not None:
            cgroup.kill()
            cgroup.remove()
    cgroups.remove_parent()
    NetworkManager(layout).cleanup_all()
    if layout.containers_dir.exists():
        shutil.rmtree(layout.containers_dir, ignore_errors=True)
