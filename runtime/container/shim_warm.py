"""The shim's warm process and its spare cgroups.

While idle the shim keeps one stage 2 forked ahead of time into fresh namespaces (child.py), so a
create pays neither for the forks nor for those namespaces; and it moves that process into
cgroups named by a fresh container id (spare_cgroup.py), so a create that reserves that id pays
no cgroup move either. Standard library only.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TypeVar

from runtime.container import child, spare_cgroup, sync
from runtime.container.shim_loop import Wait, say
from runtime.container.spec import ContainerSpec

SETUP_TIMEOUT_S = 30.0
WARM_AFTER_CREATE_S = 0.1  # a created container not started by then no longer holds the warm fork back
RETRY_AFTER_S = 1.0  # after a failed fork, before trying again


@dataclass
class Warm:
    """A stage 2 forked ahead of time into fresh namespaces, waiting for a spec (see child.py)."""
    pid: int
    channel: sync.Channel
    out_r: int
    err_r: int
    spare_id: str | None = None  # cgroups made for it ahead of time, named by the next container id
    spare_dirs: list[str] = field(default_factory=list)
    reserved_at: float | None = None  # a client took spare_id as its next container's id

    def reserved(self) -> bool:
        return self.reserved_at is not None and time.monotonic() - self.reserved_at < SETUP_TIMEOUT_S

    def close_fds(self) -> None:
        self.channel.close()
        for fd in (self.out_r, self.err_r):
            try:
                os.close(fd)
            except OSError:
                pass


def fork_process() -> Warm:
    """Fork stage 1, which forks stage 2 into fresh namespaces and exits; stage 2 then waits for a spec."""
    return run_to_end(fork_process_steps())


def fork_process_steps() -> Generator[Wait, None, Warm]:
    """`fork_process` as a task of the shim's loop: it waits for stage 2's pid without blocking."""
    shim_end, child_end = sync.channel()
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        child.run_stage1(child_end, out_w, err_w)
    for fd in (child_end, out_w, err_w):
        os.close(fd)
    try:
        report = yield from sync.collect_steps(shim_end, sync.Kind.PID, SETUP_TIMEOUT_S)
    except BaseException:
        let_go(Warm(0, shim_end, out_r, err_r))  # stage 2 finds its channel closed and ends
        raise
    warm = Warm(report.pid, shim_end, out_r, err_r)
    if not report.pid:
        let_go(warm)
        raise RuntimeError(report.error or "container process ended before setup")
    return warm


R = TypeVar("R")


def run_to_end(steps: Generator[Wait, None, R]) -> R:
    """Run a task to its end in place, blocking where it would wait (outside the loop)."""
    while True:
        try:
            next(steps)  # its next read blocks until the descriptor is readable, or its deadline
        except StopIteration as done:
            result: R = done.value
            return result


def let_go(warm: Warm) -> None:
    """Stop a process that will not become a container, and reap it (it is the shim's child)."""
    warm.close_fds()
    if warm.pid:
        kill_quietly(warm.pid)
        try:
            os.waitpid(warm.pid, 0)
        except ChildProcessError:
            pass


class WarmPool:
    """At most one warm process, refilled when the shim is idle, with its spare cgroups."""

    def __init__(self, spare_record: str, keep_warm: bool) -> None:
        self.spare_record = spare_record
        self.keep_warm = keep_warm
        self.warm: Warm | None = None
        self.spare_config: spare_cgroup.SpareConfig | None = None  # from the runtime's creates
        self.spares_off = False  # set when the host refused a spare cgroup once
        self.retry_at = 0.0

    # --- the warm process --------------------------------------------------------------------------
    def wait_time(self, pending_creates: list[float]) -> float:
        """How long to wait for requests before forking the next warm process (-1: no need).

        Only when idle, so a burst of requests is served first; and not between a create and its
        start (the fork would delay the start), unless that start is long in coming.
        """
        if not self.keep_warm or self.warm is not None:
            return -1
        not_before = max([self.retry_at, *(c + WARM_AFTER_CREATE_S for c in pending_creates)])
        return max(0.0, not_before - time.monotonic())

    def refill(self) -> None:
        try:
            self.warm = fork_process()
        except Exception as exc:
            say(f"cannot keep a process warm: {exc}")
            self.retry_at = time.monotonic() + RETRY_AFTER_S
            return
        self._place_spare(self.warm)

    def take(self, spec: ContainerSpec, stdin_fd: int | None = None) -> Generator[Wait, None, Warm]:
        """The warm process with ``spec`` (and the read end of its stdin pipe) handed over, or a
        process forked now if there is none (or the warm one died meanwhile). A warm process
        reserved for another create stays. A task of the shim's loop (it may wait for a fork)."""
        payload = spec.to_json().encode()
        warm: Warm | None = None
        if self.warm is not None and (self.warm.spare_id == spec.id or not self.warm.reserved()):
            warm, self.warm = self.warm, None
        error: Exception | None = None
        for candidate in (warm, None):
            if candidate is None:
                candidate = yield from fork_process_steps()
            try:
                sync.send_spec(candidate.channel, payload, stdin_fd)
                return candidate
            except OSError as exc:
                if candidate.spare_id == spec.id:
                    self.disown_spare(candidate)
                self.let_go(candidate)
                error = exc
        raise RuntimeError(f"container process died before setup: {error}")

    def let_go(self, warm: Warm | None) -> None:
        """Stop a warm process that will not become a container; remove its spare cgroups."""
        if warm is None:
            return
        let_go(warm)
        self.drop_spare(warm)

    def give_up(self, cid: str) -> None:
        """A reservation of ``cid`` given up: the warm process holding its cgroups goes."""
        if self.warm is not None and self.warm.spare_id == cid:
            warm, self.warm = self.warm, None
            self.let_go(warm)

    def shutdown(self) -> None:
        """The shim is stopping: the warm process goes, and what its spare kept busy, if nothing else does."""
        self.let_go(self.warm)
        if self.spare_config is not None:
            spare_cgroup.remove(list(self.spare_config.parents))

    # --- spare cgroups -----------------------------------------------------------------------------
    def configure_spares(self, raw: dict[str, object] | None) -> None:
        """Where container cgroups live, as a create tells it."""
        if raw and not self.spares_off:
            self.spare_config = spare_cgroup.SpareConfig.from_dict(raw)

    def reserve(self) -> str | None:
        """The id whose cgroups already hold the warm process, for the caller's next create."""
        warm = self.warm
        if warm is None or warm.spare_id is None or warm.reserved():
            return None
        warm.reserved_at = time.monotonic()
        return warm.spare_id

    def spare_id(self) -> str | None:
        return self.warm.spare_id if self.warm is not None else None

    def _place_spare(self, warm: Warm) -> None:
        """Move the warm process into cgroups of its own, named by the id the next create may take."""
        if self.spare_config is None or self.spares_off:
            return
        made: list[str] = []
        try:
            warm.spare_id = spare_cgroup.place(self.spare_config, warm.pid, made, self.spare_record)
            warm.spare_dirs = made
        except OSError as exc:
            say(f"no spare cgroups from now on: {exc}")
            self.spares_off = True
            warm.spare_dirs = made
            self.warm = None
            self.let_go(warm)  # removes what was made, once the process is gone

    def drop_spare(self, warm: Warm) -> None:
        """Remove the spare cgroups of a warm process that has left them (or is gone); those that
        still hold it (it was exiting, so the kernel did not move it) stay listed, for the caller
        to drop again once it has reaped the process."""
        if warm.spare_dirs:
            warm.spare_dirs = spare_cgroup.remove(warm.spare_dirs)
            if not warm.spare_dirs:
                spare_cgroup.forget(self.spare_record)

    def disown_spare(self, warm: Warm) -> None:
        """The spare cgroups are a container's now (its id was reserved): the runtime's to remove."""
        spare_cgroup.forget(self.spare_record)
        warm.spare_dirs = []


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise

