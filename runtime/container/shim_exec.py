"""`exec` in the shim: fork a process that joins a running container and runs a command there.

Standard library only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from runtime.container import child, sync
from runtime.container.spec import ContainerSpec

SETUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Started:
    pid: int       # the process running the command (it re-parents to the shim, its subreaper)
    out_r: int     # read ends of its stdout and stderr (at end-of-file at once with a terminal)
    err_r: int
    terminal: int  # the pty's master when the request asked for a terminal, else -1


def spawn(spec: ContainerSpec, target_pid: int, request: dict[str, Any], stdin_r: int | None = None) -> Started:
    """Start ``request["args"]`` in the container whose PID 1 is ``target_pid``. With
    ``request["session"]["tty"]`` the process gets a pty made inside the container; ``stdin_r`` is
    its stdin otherwise (/dev/null without). The forked child is reaped by the caller's reaper."""
    shim_end, child_end = sync.channel()
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        child.run_exec(spec, target_pid, request, child_end, out_w, err_w, stdin_r)
    for fd in (child_end, out_w, err_w):
        os.close(fd)
    report = sync.Report()
    try:
        try:
            report = sync.collect(shim_end, None, SETUP_TIMEOUT_S)
        finally:
            shim_end.close()
        if report.error is not None or not report.pid:
            raise ExecFailed(report.error or "exec failed without a report")
    except BaseException:
        for fd in (out_r, err_r, report.terminal):
            if fd >= 0:
                os.close(fd)
        raise
    return Started(report.pid, out_r, err_r, report.terminal)


class ExecFailed(Exception):
    """The process could not be started; the message is what the user sees."""
