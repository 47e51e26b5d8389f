"""What the interactive dashboard is doing, and how keys and news change it (pure: a state machine).

`State` is everything on screen apart from layout: the latest snapshot, which row is selected,
which pane is open (logs, rollout, help), a question waiting for y/n, the status line. Each input
— a key, a snapshot, log lines, an event, an action's result — gives a new state and the effects
for the terminal loop to carry out (follow these logs, restart that, exec a shell, quit). Nothing
here reads the clock, the terminal or the engine, so every key is testable on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from orchestrator.dashboard.snapshot import ContainerView, Snapshot

MAX_LOG_LINES = 2000
MAX_EVENTS = 200
Pane = Literal["none", "logs", "rollout", "help", "events"]
Verb = Literal["restart", "stop", "start", "rollback"]


@dataclass(frozen=True)
class Target:
    """A row of the list: a whole service, or one of its containers."""

    service: str
    container: str | None = None   # the container's name
    number: int = 0                # its replica number (for `exec --index`)

    def label(self) -> str:
        return self.container or f"service {self.service}"


@dataclass(frozen=True)
class FollowLogs:
    target: Target


@dataclass(frozen=True)
class StopLogs:
    pass


@dataclass(frozen=True)
class Act:
    verb: Verb
    target: Target


@dataclass(frozen=True)
class Exec:
    service: str
    index: int
    container: str


@dataclass(frozen=True)
class Quit:
    pass


Effect = FollowLogs | StopLogs | Act | Exec | Quit


@dataclass(frozen=True)
class State:
    snapshot: Snapshot | None = None
    selected: Target | None = None
    pane: Pane = "none"
    pane_target: Target | None = None
    logs: tuple[str, ...] = ()
    log_scroll: int = 0                     # lines up from the newest
    events: tuple[dict[str, Any], ...] = ()
    confirm: Act | None = None              # waits for y/n
    busy: str | None = None                 # an action in progress
    message: str = ""
    message_level: Literal["info", "ok", "error"] = "info"
    error: str | None = None                # the engine could not be sampled
    quitting: bool = False


def rows(snapshot: Snapshot | None) -> list[Target]:
    """Each service, then its containers, in the order they are drawn."""
    if snapshot is None:
        return []
    result: list[Target] = []
    for service in snapshot.services:
        result.append(Target(service.name))
        result += [Target(c.service, c.name, c.number) for c in snapshot.containers if c.service == service.name]
    return result


def container_of(snapshot: Snapshot | None, target: Target | None) -> ContainerView | None:
    if snapshot is None or target is None or target.container is None:
        return None
    return next((c for c in snapshot.containers if c.name == target.container), None)


def selected_index(state: State) -> int:
    listed = rows(state.snapshot)
    if state.selected in listed:
        return listed.index(state.selected)  # type: ignore[arg-type]
    return 0


# --- news from the edges ----------------------------------------------------------------------------

def on_snapshot(state: State, snapshot: Snapshot) -> State:
    """A new sample; the selection stays on its row, or on its service's when the container went away."""
    listed = rows(snapshot)
    selected = state.selected
    if selected not in listed:
        fallback = Target(selected.service) if selected is not None else None
        selected = fallback if fallback in listed else (listed[0] if listed else None)
    return replace(state, snapshot=snapshot, selected=selected, error=None)


def on_sample_error(state: State, message: str) -> State:
    return replace(state, error=message)


def on_logs(state: State, target: Target, lines: Iterable[str]) -> State:
    """Lines of the logs pane's target (lines of a target no longer shown are dropped)."""
    if state.pane != "logs" or state.pane_target != target:
        return state
    added = tuple(lines)
    logs = (state.logs + added)[-MAX_LOG_LINES:]
    scroll = min(state.log_scroll + len(added), len(logs)) if state.log_scroll else 0  # a scrolled view stays put
    return replace(state, logs=logs, log_scroll=scroll)


def on_event(state: State, event: dict[str, Any]) -> State:
    return replace(state, events=(*state.events, event)[-MAX_EVENTS:])


def on_done(state: State, message: str, ok: bool) -> State:
    return replace(state, busy=None, message=message, message_level="ok" if ok else "error")


def on_notice(state: State, message: str, level: Literal["info", "ok", "error"]) -> State:
    """News of a stream (the engine went away, came back) that leaves an action in flight be."""
    return replace(state, message=message, message_level=level)


def on_exec_done(state: State, container: str, code: int) -> State:
    if code == 0:
        return replace(state, message=f"back from the shell in {container}", message_level="info")
    return replace(state, message=f"the shell in {container} ended with exit code {code}", message_level="error")


# --- keys -------------------------------------------------------------------------------------------

HELP = (
    ("↑↓ j k", "select a service or a container"),
    ("Enter l", "logs of the selection (Enter again: close)"),
    ("PgUp PgDn", "scroll the logs back and forth"),
    ("r", "restart the selection (asks first)"),
    ("s", "stop the selection (asks first)"),
    ("S", "start the selection"),
    ("e", "a shell in the container (exec sh); exit it to come back"),
    ("o", "the service's rollout and its events"),
    ("b", "roll the service back to its previous configuration (asks first)"),
    ("v", "the project's events"),
    ("Esc", "close the pane, or say no"),
    ("? h", "this help"),
    ("q Ctrl-C", "quit"),
)


def on_key(state: State, key: str, page: int = 10) -> tuple[State, list[Effect]]:
    """The state after ``key`` and what the loop must do; ``page`` is the logs pane's height."""
    if state.confirm is not None:
        return _answer(state, key)
    match key:
        case "q" | "ctrl-c" | "ctrl-d":
            return replace(state, quitting=True), [Quit()]
        case "up" | "k":
            return _move(state, -1), []
        case "down" | "j":
            return _move(state, 1), []
        case "home" | "g":
            return _move(state, -len(rows(state.snapshot))), []
        case "end" | "G":
            return _move(state, len(rows(state.snapshot))), []
        case "enter" | "l":
            return _toggle_logs(state)
        case "pgup":
            return replace(state, log_scroll=min(state.log_scroll + page, max(0, len(state.logs) - page))), []
        case "pgdn":
            return replace(state, log_scroll=max(0, state.log_scroll - page)), []
        case "o":
            return _open(state, "rollout", service_only=True)
        case "v":
            return _open(state, "events")
        case "?" | "h":
            return _open(state, "help")
        case "esc":
            return _close(state)
        case "r" | "s" | "S" | "b":
            return _ask(state, {"r": "restart", "s": "stop", "S": "start", "b": "rollback"}[key])  # type: ignore[arg-type]
        case "e":
            return _exec(state)
    return state, []


def _move(state: State, step: int) -> State:
    listed = rows(state.snapshot)
    if not listed:
        return state
    index = max(0, min(len(listed) - 1, selected_index(state) + step))
    return replace(state, selected=listed[index])


def _toggle_logs(state: State) -> tuple[State, list[Effect]]:
    if state.selected is None:
        return state, []
    if state.pane == "logs" and state.pane_target == state.selected:
        return replace(state, pane="none", pane_target=None, logs=(), log_scroll=0), [StopLogs()]
    opened = replace(state, pane="logs", pane_target=state.selected, logs=(), log_scroll=0)
    return opened, [FollowLogs(state.selected)]


def _open(state: State, pane: Pane, service_only: bool = False) -> tuple[State, list[Effect]]:
    if state.pane == pane:
        return _close(state)
    target = state.selected
    if service_only and target is not None:
        target = Target(target.service)
    effects: list[Effect] = [StopLogs()] if state.pane == "logs" else []
    return replace(state, pane=pane, pane_target=target, logs=(), log_scroll=0), effects


def _close(state: State) -> tuple[State, list[Effect]]:
    if state.pane == "none":
        return replace(state, message=""), []
    effects: list[Effect] = [StopLogs()] if state.pane == "logs" else []
    return replace(state, pane="none", pane_target=None, logs=(), log_scroll=0), effects


def _ask(state: State, verb: Verb) -> tuple[State, list[Effect]]:
    target = state.selected
    if target is None:
        return state, []
    if state.busy is not None:
        return replace(state, message=f"wait: {state.busy}", message_level="error"), []
    if verb == "rollback":
        target = Target(target.service)
    act = Act(verb, target)
    if verb == "start":
        return replace(state, busy=f"starting {target.label()}…", message=""), [act]
    return replace(state, confirm=act), []


def _answer(state: State, key: str) -> tuple[State, list[Effect]]:
    act = state.confirm
    assert act is not None
    if key in ("y", "Y"):
        doing = {"restart": "restarting", "stop": "stopping", "rollback": "rolling back"}[act.verb]
        answered = replace(state, confirm=None, busy=f"{doing} {act.target.label()}…", message="")
        if act.verb == "rollback":  # follow it
            effects: list[Effect] = [StopLogs()] if state.pane == "logs" else []
            return replace(answered, pane="rollout", pane_target=act.target, logs=(), log_scroll=0), [*effects, act]
        return answered, [act]
    return replace(state, confirm=None, message="cancelled", message_level="info"), []


def _exec(state: State) -> tuple[State, list[Effect]]:
    target = state.selected
    if target is None or state.snapshot is None:
        return state, []
    running = [c for c in state.snapshot.containers if c.service == target.service and c.status == "running"
               and (target.container is None or c.name == target.container)]
    if not running:
        return replace(state, message=f"{target.label()}: no running container to open a shell in",
                       message_level="error"), []
    chosen = running[0]
    return state, [Exec(chosen.service, chosen.number, chosen.name)]


def confirm_question(act: Act) -> str:
    what = {"restart": "Restart", "stop": "Stop", "start": "Start",
            "rollback": "Roll back to the previous configuration:"}[act.verb]
    return f"{what} {act.target.label()}?"


def pane_events(state: State) -> list[dict[str, Any]]:
    """The events the open pane shows: the rollout pane's service's, or all of them."""
    if state.pane == "rollout" and state.pane_target is not None:
        return [e for e in state.events if e.get("service") == state.pane_target.service]
    return list(state.events)
