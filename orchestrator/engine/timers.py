"""One-shot timers for the engine: a restart's delay, a container's next health probe.

All the engine asks of a scheduler is "run this function with these arguments at that time", on
a pool of threads so that a probe waiting for its exec does not hold up the others (APScheduler's
`date` jobs on a `BackgroundScheduler` did it; APScheduler and what it imports, asyncio among them,
were ~4 MiB of the engine's RSS, issue 17). A job runs however late it comes due (a loaded host, a
clock step): the engine's passes are level-triggered, and a probe or a pass run late is still right.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Scheduler(Protocol):
    """What the engine and the health monitor use (FakeScheduler in the unit tests records it)."""

    def add_job(self, func: Callable[..., Any], trigger: str, *, run_date: dt.datetime,
                args: Sequence[Any] = (), misfire_grace_time: float | None = None) -> object: ...
    def start(self) -> None: ...
    def shutdown(self, wait: bool = True) -> None: ...


class Timers:
    """A heap of (due time, function, arguments) served by one thread; each job runs on a pool of
    ``workers`` threads."""

    def __init__(self, workers: int = 10) -> None:
        self._heap: list[tuple[float, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._order = itertools.count()  # equal due times run in the order they were added
        self._changed = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pyorch-timer")
        self._thread: threading.Thread | None = None
        self._stopped = False

    def add_job(self, func: Callable[..., Any], trigger: str, *, run_date: dt.datetime,
                args: Sequence[Any] = (), misfire_grace_time: float | None = None) -> None:
        """``func(*args)`` at ``run_date`` (a naive local time or an aware one, as datetime's
        `timestamp()` reads it). Only the "date" trigger exists; ``misfire_grace_time`` is
        accepted for the callers' sake and ignored: a late job always runs."""
        if trigger != "date":
            raise ValueError(f"unknown trigger {trigger!r}: only one-shot 'date' timers exist")
        with self._changed:
            heapq.heappush(self._heap, (run_date.timestamp(), next(self._order), func, tuple(args)))
            self._changed.notify()

    def start(self) -> None:
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="pyorch-timers", daemon=True)
                self._thread.start()

    def shutdown(self, wait: bool = True) -> None:
        """No job starts after this; with ``wait``, the running ones are waited for."""
        with self._changed:
            self._stopped = True
            self._changed.notify()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def pending(self) -> int:
        with self._changed:
            return len(self._heap)

    def _serve(self) -> None:
        while True:
            with self._changed:
                while not self._stopped:
                    now = dt.datetime.now().timestamp()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._changed.wait(None if not self._heap else self._heap[0][0] - now)
                if self._stopped:
                    return
                _, _, func, args = heapq.heappop(self._heap)
            try:
                self._pool.submit(self._run, func, args)
            except RuntimeError:
                return  # the pool was shut down meanwhile

    @staticmethod
    def _run(func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            func(*args)
        except Exception:
            log.exception("timer job %s failed", getattr(func, "__qualname__", func))
