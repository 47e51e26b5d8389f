"""The shim's event loop: one epoll, a callback per descriptor (conmon's main loop, in small).

Each part of the shim registers the descriptors it owns (the listening socket and clients,
container output, the signal wake-up pipe) with the function that serves them, so the loop knows
none of them. Single-threaded on purpose: the shim forks containers, and unshare/setns need it.
Standard library only.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from collections.abc import Callable, Generator

from runtime.diskspace import NO_SPACE

Handler = Callable[[int], None]  # called with the epoll events that fired
Wait = tuple[int, float]  # what a task waits for: a descriptor to turn readable, by a monotonic deadline
Task = Generator[Wait, None, None]


class Timeout(Exception):
    """Thrown into a task whose descriptor did not turn readable by its deadline."""


class Loop:
    def __init__(self) -> None:
        self._poller = select.epoll()
        self._handlers: dict[int, Handler] = {}
        self._waiting: dict[int, tuple[Task, float, Handler | None]] = {}  # fd → task, deadline, handler it displaced
        self._signal_handlers: dict[int, Callable[[], None]] = {}
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def add(self, fd: int, handler: Handler, events: int = select.EPOLLIN) -> None:
        self._poller.register(fd, events)
        self._handlers[fd] = handler

    def modify(self, fd: int, events: int) -> None:
        self._poller.modify(fd, events)

    def remove(self, fd: int) -> None:
        waiting = self._waiting.pop(fd, None)
        if self._handlers.pop(fd, None) is not None:
            self._poller.unregister(fd)
        if waiting is not None:  # the descriptor goes away under a task that waits on it
            self._step(waiting[0], ConnectionError("the descriptor was closed"))

    def watches(self, fd: int) -> bool:
        return fd in self._handlers

    def on_signals(self, handler: Callable[[], None], *signums: int) -> None:
        """Run ``handler`` from the loop (never inside a signal handler) after any of ``signums``:
        a handler never interrupts the shim half-way through a step (a SIGTERM in the middle of
        making a spare cgroup would leave it behind)."""
        for signum in signums:
            signal.signal(signum, lambda *_: None)
            self._signal_handlers[signum] = handler
        if self.watches(self.wake_r):
            return
        signal.set_wakeup_fd(self.wake_w)
        self.add(self.wake_r, lambda _events: self._woken())

    def _woken(self) -> None:
        arrived: set[int] = set()
        try:
            while data := os.read(self.wake_r, 512):
                arrived.update(data)  # one byte per signal: its number
        except BlockingIOError:
            pass
        for signum in sorted(arrived):
            handler = self._signal_handlers.get(signum)
            if handler is not None:
                handler()

    # --- tasks ----------------------------------------------------------------------------------------
    def spawn(self, task: Task) -> None:
        """Run ``task`` until it waits: a generator that yields (fd, deadline) when it must wait for
        the descriptor to turn readable; the loop serves everything else meanwhile and resumes it
        then (or throws `Timeout` into it at the deadline). So a container's setup, which waits on
        other processes (the client placing its cgroups, stage 2 building its root, the exec),
        does not hold up the setups of others: creates run side by side, in one thread."""
        self._step(task, None)

    def _step(self, task: Task, error: BaseException | None) -> None:
        try:
            fd, deadline = task.throw(error) if error is not None else next(task)
        except StopIteration:
            return
        displaced = self._handlers.pop(fd, None)  # a client's connection, while the task reads it
        if displaced is None:
            self._poller.register(fd, select.EPOLLIN)
        self._waiting[fd] = (task, deadline, displaced)
        self._handlers[fd] = lambda _events: self._resume(fd, None)

    def _resume(self, fd: int, error: BaseException | None) -> None:
        task, _deadline, displaced = self._waiting.pop(fd)
        if displaced is not None:
            self._handlers[fd] = displaced
        else:
            self._handlers.pop(fd, None)
            self._poller.unregister(fd)
        self._step(task, error)

    def _expire(self) -> bool:
        now = time.monotonic()
        late = [fd for fd, (_, deadline, _) in self._waiting.items() if deadline <= now]
        for fd in late:
            if fd in self._waiting:
                self._resume(fd, Timeout("no answer in time"))
        return bool(late)

    def _poll_timeout(self, idle_in: float) -> float:
        if not self._waiting:
            return idle_in
        first = max(0.0, min(deadline for _, deadline, _ in self._waiting.values()) - time.monotonic())
        return first if idle_in < 0 else min(first, idle_in)

    def run(self, timeout: Callable[[], float], idle: Callable[[], None]) -> None:
        """Serve descriptors forever; ``idle`` runs when ``timeout()`` seconds pass with nothing to do
        (a negative timeout waits for events only)."""
        while True:
            events = self._poller.poll(self._poll_timeout(timeout()))
            if not events:
                if not self._expire():
                    _survive_full_disk(lambda _mask: idle(), 0)
                continue
            for fd, mask in events:
                handler = self._handlers.get(fd)
                if handler is not None:  # an earlier handler of this round may have removed it
                    _survive_full_disk(handler, mask)


def _survive_full_disk(step: Handler, mask: int) -> None:
    """Run one handler; a full disk it ran into ends that step, never the shim (every container's
    exit status and output go through it). The parts that write (logs, exit records) handle it
    themselves; this is for a write elsewhere (its own log, a spare cgroup's record)."""
    try:
        step(mask)
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        say(f"{exc} (the step that ran into it is given up)")


def say(message: str) -> None:
    """A line in the shim's own log (its stderr), which may be on the full disk too."""
    try:
        print(f"pyorch-shim: {message}", file=sys.stderr, flush=True)
    except OSError:
        pass
