"""Which projects wait for a pass, and when the next resync is due (client-go's workqueue, in small).

Events wake exactly the projects they concern: a project added while it waits is there once, and
one added while its pass runs gets another pass after it (the pass may have read before the
change). A resync re-lists every container from the kernel and passes over every project; it
comes every `resync_s` and whenever asked (the engine starting, the shim's event stream broken),
so a missed event is healed within one period. Delayed wakes (restart backoffs) are the
scheduler's timers, which add their project when due.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

EVERY_PROJECT = None  # `add(EVERY_PROJECT)`: a pass over all projects, from what is observed


@dataclass(frozen=True)
class Work:
    """What the next pass does: a resync (re-list, every project), or these projects."""

    resync: bool
    projects: frozenset[str] = field(default_factory=frozenset)
    every_project: bool = False


class WorkQueue:
    def __init__(self, resync_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.resync_s = resync_s
        self._clock = clock
        self._ready = threading.Condition()
        self._projects: set[str] = set()
        self._every_project = False
        self._resync_at = clock()  # the first pass re-lists: the engine has just started
        self._closed = False

    def add(self, project: str | None) -> None:
        """A pass over ``project`` soon (every project when it is None)."""
        with self._ready:
            if project is None:
                self._every_project = True
            else:
                self._projects.add(project)
            self._ready.notify()

    def resync(self) -> None:
        """A resync now (the next pass re-lists every container)."""
        with self._ready:
            self._resync_at = self._clock()
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def take(self, timeout: float | None = None) -> Work | None:
        """Block until there is work, then take all of it (None once closed, or after ``timeout``)."""
        give_up = None if timeout is None else self._clock() + timeout
        with self._ready:
            while not self._closed:
                now = self._clock()
                if now >= self._resync_at:
                    self._resync_at = now + self.resync_s
                    self._projects.clear()
                    self._every_project = False
                    return Work(resync=True)
                if self._projects or self._every_project:
                    work = Work(False, frozenset(self._projects), self._every_project)
                    self._projects.clear()
                    self._every_project = False
                    return work
                if give_up is not None and now >= give_up:
                    return None
                self._ready.wait(min(self._resync_at, give_up if give_up is not None else self._resync_at) - now)
            return None
