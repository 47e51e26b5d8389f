"""Reaping in the shim: every child's exit, and the record a container's exit leaves on disk.

The shim is a child subreaper, so container inits and exec'd processes re-parent to it when the
process that forked them exits (conmon's ctr_exit.c plays this part). Standard library only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from runtime.diskspace import NO_SPACE

UNCLAIMED_KEPT = 256
# An exit record's room, taken when the container is created: a full disk never costs a
# container its exit status (the record is written into it in place, then renamed).
RESERVE_NAME = "exit.reserve"
RESERVE_BYTES = 512


class Reaper:
    """Reaps every exited child; a container's exit is recorded *before* its PID is reaped.

    waitid(WNOWAIT) leaves the zombie in place while ``on_container_exit`` drains the last output
    and writes exit.json, so an observer never sees the PID gone without an exit record.
    """

    def __init__(self, on_container_exit: Callable[[int, int, int], bool],
                 held: Callable[[], bool] = lambda: False) -> None:
        self.on_container_exit = on_container_exit  # (pid, exit code, signal) → was it a container
        # While a client places a PID 1 in its cgroups by pid, nothing is reaped: a PID 1 that died
        # meanwhile stays a zombie, so its pid cannot be another process's yet (call reap after).
        self.held = held
        self.execs: dict[int, dict[str, Any] | None] = {}  # exec pid → exit info once reaped
        self.unclaimed: dict[int, dict[str, Any]] = {}  # reaped before anyone asked (fast exec processes)

    def reap(self) -> None:
        if self.held():
            return
        while True:
            try:
                peek = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if peek is None or peek.si_pid == 0:
                return
            pid = peek.si_pid
            killed = peek.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
            code = 128 + peek.si_status if killed else peek.si_status
            if self.on_container_exit(pid, code, peek.si_status if killed else 0):
                pass
            elif pid in self.execs:
                self.execs[pid] = {"exit_code": code}
            else:  # an exec process whose pid the shim has not read yet, or an orphan
                self.unclaimed[pid] = {"exit_code": code}
                while len(self.unclaimed) > UNCLAIMED_KEPT:
                    self.unclaimed.pop(next(iter(self.unclaimed)))
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass

    def expect_exec(self, pid: int) -> None:
        """An exec'd process to keep the exit of; it may have exited (and been reaped) already."""
        self.execs.setdefault(pid, self.unclaimed.pop(pid, None))

    def exec_status(self, pid: int) -> tuple[bool, dict[str, Any] | None]:
        """(known, exit info or None while it runs); a reported exit is forgotten."""
        if pid not in self.execs:
            return False, None
        info = self.execs[pid]
        if info is not None:
            del self.execs[pid]
        return True, info


def exit_record(pid: int, exit_code: int, signal: int, unknown: bool = False) -> dict[str, Any]:
    """What exit.json says: ``pid`` says which run of the container it is about (a restart keeps
    the bundle). ``unknown``: the exit was not seen (no shim was there), so its status is unknown
    and its time is when it was noticed."""
    info: dict[str, Any] = {"exit_code": exit_code, "signal": signal, "finished_at": time.time(), "pid": pid}
    if unknown:
        info["unknown"] = True
    return info


def write_exit_record(bundle_dir: str, info: dict[str, Any]) -> None:
    """exit.json in the container's bundle, written whole then renamed into place; on a full
    disk, into the room reserved for it (`reserve_exit_record`). Raises when neither works."""
    path = os.path.join(bundle_dir, "exit.json")
    tmp = path + ".tmp"
    data = json.dumps(info).encode()
    try:
        with open(tmp, "wb") as f:
            f.write(data)
    except OSError as exc:
        _unlink(tmp)
        if exc.errno not in NO_SPACE or len(data) > RESERVE_BYTES:
            raise
        reserve = os.path.join(bundle_dir, RESERVE_NAME)
        try:
            fd = os.open(reserve, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise exc from None
        try:
            os.pwrite(fd, data.ljust(RESERVE_BYTES), 0)  # JSON allows the trailing blanks
        finally:
            os.close(fd)
        os.replace(reserve, path)
        return
    os.replace(tmp, path)


def reserve_exit_record(bundle_dir: str) -> bool:
    """Take the room of the container's next exit record now (False: the disk is full already)."""
    path = os.path.join(bundle_dir, RESERVE_NAME)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno in NO_SPACE:
            return False
        raise
    try:
        if os.fstat(fd).st_size < RESERVE_BYTES:
            os.pwrite(fd, b" " * RESERVE_BYTES, 0)
        return True
    except OSError as exc:
        if exc.errno in NO_SPACE:
            return False
        raise
    finally:
        os.close(fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def death_of(pid: int) -> str:
    """How a child died (it is ours to reap: we are its subreaper)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "its process is gone"
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.WEXITSTATUS(status)}"
