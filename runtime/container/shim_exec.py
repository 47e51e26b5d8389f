"""`exec` in the shim: fork a process that joins a running container and runs a command there.

Standard library only.
"""

from __future__ import annotations

import os
from typing import Any

from runtime.container import child, sync
from runtime.container.spec import ContainerSpec

SETUP_TIMEOUT_S = 30.0


def spawn(spec: ContainerSpec, target_pid: int, request: dict[str, Any]) -> tuple[int, int, int]:
    """Start ``request["args"]`` in the container whose PID 1 is ``target_pid``: returns the pid of
    the process and the read ends of its stdout and stderr. It execs in a grandchild that
    re-parents to the shim (its subreaper); the forked child is reaped by the caller's reaper."""
    shim_end, child_end = sync.channel()
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        child.run_exec(spec, target_pid, request, child_end, out_w, err_w)
    for fd in (child_end, out_w, err_w):
        os.close(fd)
    try:
        try:
            report = sync.collect(shim_end, None, SETUP_TIMEOUT_S)
        finally:
            shim_end.close()
        if report.error is not None or not report.pid:
            raise ExecFailed(report.error or "exec failed without a report")
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    return report.pid, out_r, err_r


class ExecFailed(Exception):
    """The process could not be started; the message is what the user sees."""
