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
from collections.abc import Callable

Handler = Callable[[int], None]  # called with the epoll events that fired


class Loop:
    def __init__(self) -> None:
        self._poller = select.epoll()
        self._handlers: dict[int, Handler] = {}
        self._signal_handlers: dict[int, Callable[[], None]] = {}
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def add(self, fd: int, handler: Handler, events: int = select.EPOLLIN) -> None:
        self._poller.register(fd, events)
        self._handlers[fd] = handler

    def modify(self, fd: int, events: int) -> None:
        self._poller.modify(fd, events)

    def remove(self, fd: int) -> None:
        if self._handlers.pop(fd, None) is not None:
            self._poller.unregister(fd)

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

    def run(self, timeout: Callable[[], float], idle: Callable[[], None]) -> None:
        """Serve descriptors forever; ``idle`` runs when ``timeout()`` seconds pass with nothing to do
        (a negative timeout waits for events only)."""
        while True:
            events = self._poller.poll(timeout())
            if not events:
                idle()
                continue
            for fd, mask in events:
                handler = self._handlers.get(fd)
                if handler is not None:  # an earlier handler of this round may have removed it
                    handler(mask)
