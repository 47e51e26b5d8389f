"""The interactive dashboard's loop: keys and news in, frames out, API calls at the edge.

One thread (this one) owns the state and the terminal: it waits on the keyboard and on a wake-up
pipe, turns keys into a new state and effects (model.py), applies the news the other threads
post, and draws (view.py). The others only talk to the engine: a sampler (ps, stats, rollouts
about once a second), the event stream, the logs stream of the open pane, and one action at a
time (restart, stop, start, rollback take seconds: the screen stays live meanwhile). What they
learn reaches the state as a function posted to the loop, so the state is never shared.
"""

from __future__ import annotations

import functools
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from rich.console import Console

from orchestrator.cli.client import EngineClient, Subscription
from orchestrator.cli.cmd_events import ServiceOf, compose_event
from orchestrator.dashboard import model
from orchestrator.dashboard.frame import render_frame
from orchestrator.dashboard.keys import decode
from orchestrator.dashboard.model import Act, Exec, FollowLogs, State, StopLogs, Target
from orchestrator.dashboard.snapshot import Snapshot, build_snapshot
from orchestrator.dashboard.terminal import Terminal
from orchestrator.dashboard.view import render
from orchestrator.errors import EngineError, EngineUnavailable

CPU_WINDOW_S = 0.3    # the gap between the first two stats samples (CPU % is a rate)
FRAME_S = 1 / 20      # at most 20 frames a second, however fast logs come (a 200×60 frame takes ~15-25 ms)
LOG_TAIL = 200        # lines of history a logs pane opens with
EVENTS_BACK_S = 900   # events of the last quarter hour are shown when the dashboard starts
RETRY_S = 1.0         # a stream that ended is opened again this often until the engine is back
Change = Callable[[State], State]
_FAILURES = (EngineError, EngineUnavailable, OSError, ValueError)


class Sampler:
    """Keeps the previous stats sample so every frame's CPU % covers the time since the last one."""

    def __init__(self, client: EngineClient, project: str, desired: dict[str, int]) -> None:
        self.client = client
        self.project = project
        self.desired = desired
        self._previous: list[dict[str, object]] | None = None

    def _get(self, what: str) -> Any:
        # autostart off: a dashboard shows that the engine is gone rather than starting one
        return self.client.request("GET", f"/v1/projects/{self.project}/{what}", autostart=False)

    def _stats(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = self._get("stats")
        return rows

    def sample(self) -> Snapshot:
        if self._previous is None:
            self._previous = self._stats()
            time.sleep(CPU_WINDOW_S)
        before, after = self._previous, self._stats()
        ps = self._get("ps?all=1")
        rollouts = self._get("rollouts")
        self._previous = after
        return build_snapshot(self.project, self.desired, ps, before, after, rollouts,  # type: ignore[arg-type]
                              time.time())


class Feed:
    """A stream from the engine read on its own thread, opened again when it ends or fails (the
    engine restarted: `pyorch` upgrades, a crash, `systemctl restart`) every ``retry_s`` until it
    is back; ``failed`` hears of each outage once, ``recovered`` of its end. `close()` ends it from
    any thread.

    ``open_stream`` is called for every connection, so it can resume where the last one stopped
    (the events after the last id seen, the log lines after the last time seen)."""

    def __init__(self, open_stream: Callable[[], Subscription], handle: Callable[[dict[str, Any]], None],
                 failed: Callable[[str], None], retry_s: float | None = None,
                 recovered: Callable[[], None] = lambda: None) -> None:
        self._open, self._handle, self._failed, self._recovered = open_stream, handle, failed, recovered
        self._retry_s = RETRY_S if retry_s is None else retry_s
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._subscription: Subscription | None = None
        self.connections = 0  # streams opened so far (a test reads it)
        self._thread = threading.Thread(target=self._run, name="pyorch-dashboard-feed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        outage = False
        while not self._closed.is_set():
            try:
                subscription = self._open()
                with self._lock:
                    self._subscription = subscription
                    if self._closed.is_set():
                        subscription.close()
                self.connections += 1
                if outage:
                    self._recovered()
                outage = False
                for item in subscription:
                    if self._closed.is_set():
                        return
                    self._handle(item)
                reason = "the engine closed the stream"
            except _FAILURES as exc:
                reason = str(exc)
            if self._closed.is_set():
                return
            if not outage:
                self._failed(f"{reason}; reconnecting")
            outage = True
            self._closed.wait(self._retry_s)

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            if self._subscription is not None:
                self._subscription.close()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class Loop:
    def __init__(self, client: EngineClient, sampler: Sampler, interval: float, terminal: Terminal,
                 run_shell: Callable[[Exec], int]) -> None:
        self.client, self.sampler, self.interval, self.terminal = client, sampler, interval, terminal
        self.project = sampler.project
        self.run_shell = run_shell
        self.state = State()
        self.inbox: queue.SimpleQueue[Change] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.logs: Feed | None = None
        self.events: Feed | None = None

    # --- from other threads ------------------------------------------------------------------------
    def post(self, change: Change) -> None:
        self.inbox.put(change)
        self.wake()

    def wake(self) -> None:
        try:
            os.write(self.wake_w, b".")
        except BlockingIOError:
            pass  # the pipe is full: the loop is awake anyway

    def _sample_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                snapshot = self.sampler.sample()
                self.post(functools.partial(_with_snapshot, snapshot=snapshot))
            except _FAILURES as exc:
                self.post(functools.partial(_with_error, message=str(exc)))
            self.stopping.wait(self.interval)

    def _act(self, act: Act) -> None:
        try:
            message, ok = perform(self.client, self.project, act)
        except _FAILURES as exc:
            message, ok = f"{act.verb} {act.target.label()} failed: {exc}", False
        self.post(lambda s: model.on_done(s, message, ok))

    # --- effects -----------------------------------------------------------------------------------
    def _follow_logs(self, target: Target) -> None:
        self._stop_logs()
        service, container = target.service, target.container
        path = f"/v1/projects/{self.project}/logs?follow=1&tail={LOG_TAIL}&service={service}"
        pending: list[str] = []   # this pane's lines not yet in the state
        lock = threading.Lock()
        # The newest line's time per container: a stream opened again (the engine restarted) sends
        # its last LOG_TAIL lines again, and those already shown are left out.
        seen_until: dict[str, str] = {}

        def take() -> list[str]:
            with lock:
                lines = pending[:]
                pending.clear()
            return lines

        def handle(record: dict[str, Any]) -> None:
            if container is not None and record.get("container") != container:
                return
            name, at = str(record.get("container")), str(record.get("time", ""))
            if at and at <= seen_until.get(name, ""):
                return  # shown before the stream was opened again
            seen_until[name] = at or seen_until.get(name, "")
            text = str(record.get("text", ""))
            line = text if container is not None else f"{_short(self.project, str(record.get('container')))} | {text}"
            with lock:
                pending.append(line)
                first = len(pending) == 1
            if first:  # one change takes every line that came meanwhile
                self.post(lambda s: model.on_logs(s, target, take()))

        def failed(message: str) -> None:
            self.post(lambda s: model.on_notice(s, f"logs: {message}", "error"))

        def recovered() -> None:
            self.post(lambda s: model.on_notice(s, "logs: following again", "info"))

        self.logs = Feed(lambda: self.client.subscribe(path, autostart=False), handle, failed,
                         recovered=recovered)

    def _stop_logs(self) -> None:
        if self.logs is not None:
            self.logs.close()
            self.logs = None

    def _follow_events(self) -> None:
        rows: list[dict[str, Any]] = self.client.request("GET", f"/v1/projects/{self.project}/ps?all=1")
        service_of = ServiceOf(self.project, rows)
        since = time.time() - EVENTS_BACK_S
        last_id = 0  # the newest event shown: a stream opened again resumes after it (none is missed)

        def open_stream() -> Subscription:
            start = f"after={last_id}" if last_id else f"since={since!r}"
            return self.client.subscribe(f"/v1/events?project={self.project}&{start}&follow=1", autostart=False)

        def handle(stored: dict[str, Any]) -> None:
            nonlocal last_id
            last_id = max(last_id, int(stored.get("id") or 0))
            event = compose_event(stored, service_of)
            self.post(lambda s: model.on_event(s, event))

        self.events = Feed(open_stream, handle, lambda message: None)

    def _perform(self, effect: model.Effect) -> None:
        match effect:
            case FollowLogs(target):
                self._follow_logs(target)
            case StopLogs():
                self._stop_logs()
            case Act():
                threading.Thread(target=self._act, args=(effect,), name="pyorch-dashboard-act", daemon=True).start()
            case Exec():
                with self.terminal.suspended():
                    code = self.run_shell(effect)
                self.state = model.on_exec_done(self.state, effect.container, code)

    # --- the loop ----------------------------------------------------------------------------------
    def run(self) -> int:
        sampler = threading.Thread(target=self._sample_forever, name="pyorch-dashboard-sample", daemon=True)
        sampler.start()
        self._follow_events()
        drawn_at = 0.0
        dirty = True
        while not self.state.quitting:
            wait = None if not dirty else max(0.0, FRAME_S - (time.monotonic() - drawn_at))
            ready, _, _ = select.select([self.terminal.fd, self.wake_r], [], [], wait)
            if self.wake_r in ready:
                _drain(self.wake_r)
                dirty = True
            if self.terminal.fd in ready:
                data = self.terminal.read_keys()
                if not data:
                    break  # the terminal went away
                page = max(1, self.terminal.size()[1] // 3)
                for key in decode(data):
                    self.state, effects = model.on_key(self.state, key, page)
                    for effect in effects:
                        self._perform(effect)
                dirty = True
            while not self.inbox.empty():
                self.state = self.inbox.get()(self.state)
            if dirty and time.monotonic() - drawn_at >= FRAME_S:
                width, height = self.terminal.size()
                self.terminal.draw(render(self.state, width, height))
                drawn_at, dirty = time.monotonic(), False
        return 0

    def close(self) -> None:
        self.stopping.set()
        self._stop_logs()
        if self.events is not None:
            self.events.close()
        os.close(self.wake_r)
        os.close(self.wake_w)


class Requester(Protocol):
    """The part of the API client an action needs."""

    def request(self, method: str, path: str, body: Any = None) -> Any: ...


def perform(client: Requester, project: str, act: Act) -> tuple[str, bool]:
    """One action through the API; the line the status bar shows, and whether it went well."""
    target = act.target
    selection: dict[str, Any] = {"services": [target.service]}
    if target.container is not None:
        selection["containers"] = [target.container]
    base = f"/v1/projects/{project}"
    if act.verb == "rollback":
        record = client.request("POST", f"{base}/rollback", {"service": target.service})
        return f"rollback of {target.service} started (revision {record['revision']})", True
    stopped: list[str] = []
    if act.verb in ("stop", "restart"):
        stopped = client.request("POST", f"{base}/stop", selection)["stopped"]
        if act.verb == "stop":
            return (f"stopped {', '.join(stopped)}", True) if stopped else (f"{target.label()}: nothing running", True)
    result = client.request("POST", f"{base}/start", selection)
    if result["errors"]:
        return "; ".join(result["errors"]), False
    done = "restarted" if act.verb == "restart" else "started"
    return (f"{done} {', '.join(result['started'])}", True) if result["started"] else \
        (f"{target.label()}: nothing to start", True)


def shell_command(project: str, target: Exec) -> list[str]:
    """`pyorch -p PROJECT exec --index N SERVICE sh`, with this interpreter (no PATH lookup)."""
    return [sys.executable, "-m", "orchestrator.cli", "-p", project, "exec", "--index", str(target.index),
            target.service, "sh"]


def exec_shell(project: str, target: Exec, call: Callable[[list[str]], int] = subprocess.call) -> int:
    """`pyorch exec` in this terminal, as its own process: it gets the terminal (and a TTY when
    `exec` allocates one); Ctrl-C goes to it, not to the dashboard waiting for it."""
    sys.stdout.write(f"pyorch exec {target.container} sh: exit the shell to go back to the dashboard\n")
    sys.stdout.flush()
    previous = signal.signal(signal.SIGINT, lambda number, frame: None)  # a handler, so the child keeps the default
    try:
        code = call(shell_command(project, target))
    finally:
        signal.signal(signal.SIGINT, previous)
    if code != 0:
        sys.stdout.write(f"[exit code {code}] press Enter to go back to the dashboard ")
        sys.stdout.flush()
        sys.stdin.readline()
    return code


def _with_snapshot(state: State, snapshot: Snapshot) -> State:
    return model.on_snapshot(state, snapshot)


def _with_error(state: State, message: str) -> State:
    return model.on_sample_error(state, message)


def _short(project: str, name: str) -> str:
    return name[len(project) + 1:] if name.startswith(project + "-") else name


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _raise_exit(number: int, frame: object) -> None:
    raise SystemExit(128 + number)


def run(console: Console, sampler: Sampler, interval: float, once: bool) -> int:
    if once:
        console.print(render_frame(sampler.sample()))
        return 0
    terminal = Terminal(console, sys.stdin.fileno())
    loop = Loop(sampler.client, sampler, interval, terminal, lambda target: exec_shell(sampler.project, target))
    handlers = {number: signal.signal(number, _raise_exit) for number in (signal.SIGTERM, signal.SIGHUP)}
    handlers[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, lambda number, frame: loop.wake())
    terminal.enter()
    try:
        return loop.run()
    finally:
        loop.close()
        try:
            terminal.leave()
        except OSError:
            pass  # the terminal is gone (a hung-up SSH session): nothing to give back
        for number, handler in handlers.items():
            signal.signal(number, handler)
