"""Running health checks: one timer per container, probes exec'd through the shim.

A probe is an `exec` into the container (its namespaces, cgroup, user and capabilities), so no
Python interpreter starts per probe. Results go through the pure state machine in `health.py`;
the state is kept in memory and in the store after every probe, so after an engine restart (live
restore) a container keeps its status, failing streak and last outputs for its current run, and
probing resumes from there (Docker keeps `State.Health` on disk the same way).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from apscheduler.schedulers.base import BaseScheduler

from orchestrator.planner.health import (
    HealthCheck,
    HealthState,
    ProbeResult,
    apply_result,
    cap_output,
    next_probe_delay,
    state_from_dict,
    state_to_dict,
)
from runtime.container.runtime import ContainerRuntime
from runtime.errors import RuntimeFailure
from runtime.fdwait import readable

log = logging.getLogger("pyorch.health")
OnChange = Callable[[str, HealthState, HealthState], None]


class HealthRecords(Protocol):
    """Where states outlive the engine (the store)."""

    def save_health(self, container_id: str, started_at: float, state: dict[str, Any]) -> None: ...

    def load_health(self, container_id: str, started_at: float) -> dict[str, Any] | None: ...


@dataclass
class _Monitored:
    project: str
    check: HealthCheck
    started_at: float
    state: HealthState


class HealthMonitor:
    def __init__(self, runtime: ContainerRuntime, scheduler: BaseScheduler, on_change: OnChange,
                 records: HealthRecords | None = None) -> None:
        self.runtime = runtime
        self.records = records
        self.scheduler = scheduler
        self.on_change = on_change
        self._monitored: dict[str, _Monitored] = {}
        self._lock = threading.Lock()

    def state(self, cid: str, started_at: float | None = None) -> HealthState | None:
        """The container's health; one not monitored (yet: a restarted engine adopts containers on
        its first pass) is read from the records of its run started at ``started_at``."""
        with self._lock:
            m = self._monitored.get(cid)
            if m is not None:
                return m.state
        return None if started_at is None else self._recorded(cid, started_at)

    def sync(self, project: str, running: dict[str, tuple[float, HealthCheck | None]]) -> None:
        """Monitor exactly the project's running containers that have a check (id → (started_at, check))."""
        with self._lock:
            for cid in list(self._monitored):
                if self._monitored[cid].project != project:
                    continue
                entry = running.get(cid)
                if entry is None or entry[1] is None or entry[0] != self._monitored[cid].started_at:
                    del self._monitored[cid]
            new = [(cid, started, check, self._recorded(cid, started) or HealthState())
                   for cid, (started, check) in running.items() if check is not None and cid not in self._monitored]
            for cid, started, check, state in new:
                self._monitored[cid] = _Monitored(project, check, started, state)
        for cid, started, check, state in new:
            delay = next_probe_delay(time.time(), started, state, check)
            self._schedule(cid, started, delay)

    def _recorded(self, cid: str, started_at: float) -> HealthState | None:
        raw = self.records.load_health(cid, started_at) if self.records is not None else None
        return None if raw is None else state_from_dict(raw)

    def _schedule(self, cid: str, started_at: float, delay: float) -> None:
        when = dt.datetime.now() + dt.timedelta(seconds=delay)
        self.scheduler.add_job(self._probe, "date", run_date=when, args=[cid, started_at],
                               misfire_grace_time=None)

    def _probe(self, cid: str, started_at: float) -> None:
        with self._lock:
            m = self._monitored.get(cid)
            if m is None or m.started_at != started_at:
                return  # the container stopped or restarted: its monitor ended
            check = m.check
        result = run_probe(self.runtime, cid, check)
        with self._lock:
            m = self._monitored.get(cid)
            if m is None or m.started_at != started_at:
                return
            old = m.state
            m.state = apply_result(old, result, check, started_at)
            new = m.state
            if self.records is not None:
                self.records.save_health(cid, started_at, state_to_dict(new))
        if new.status != old.status:
            log.info("container %s is %s", cid[:12], new.status)
            self.on_change(cid, old, new)
        self._schedule(cid, started_at, next_probe_delay(time.time(), started_at, new, check))


def run_probe(runtime: ContainerRuntime, cid: str, check: HealthCheck) -> ProbeResult:
    """Exec the check; a probe over its timeout is killed and counts as exit code -1, as in Docker."""
    start = time.time()
    try:
        session = runtime.exec(cid, list(check.args))
    except RuntimeFailure as exc:
        return ProbeResult(start, time.time(), -1, str(exc))
    output = bytearray()
    deadline = time.monotonic() + check.timeout
    fds = dict(session.raw_fds())
    timed_out = False
    while fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready = readable(list(fds), remaining)
        for fd in ready:
            data = os.read(fd, 65536)
            if data:
                if len(output) <= 4096:
                    output += data
            else:
                del fds[fd]
    if timed_out:
        try:
            os.kill(session.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        session.wait(timeout=5)
        text = cap_output(bytes(output))
        message = f"Health check exceeded timeout ({check.timeout:g}s)" + (f": {text}" if text else "")
        return ProbeResult(start, time.time(), -1, message)
    try:
        code = session.wait(timeout=check.timeout)
    except RuntimeFailure as exc:
        return ProbeResult(start, time.time(), -1, str(exc))
    return ProbeResult(start, time.time(), code, cap_output(bytes(output)))
