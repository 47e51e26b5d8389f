"""`GET /v1/events`: the stored events of a project, then (with `follow=1`) new ones as they are committed.

`after=ID` resumes after an event id (no event is missed across reconnects or engine restarts);
`since=TS` starts at a time (epoch seconds) and `until=TS` ends the stream at one, even while
following: what `pyorch events --since/--until` asks for, as Docker's event stream does.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.engine.peer import peer_closed
from orchestrator.engine.store import Event
from orchestrator.errors import EngineError

WAIT_S = 1.0  # longest wait for a new event before the stop conditions are checked again
BATCH = 500   # events read from the store at a time


class EventSource(Protocol):
    def events_since(self, after_id: int, project: str | None = None, limit: int = 500,
                     since: float | None = None) -> list[Event]: ...
    def last_event_id(self) -> int: ...
    def wait_for_event(self, after_id: int, timeout: float) -> None: ...


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...
    def flush(self) -> object: ...


class Handler(Protocol):
    """What this module needs of the API's request handler."""

    @property
    def wfile(self) -> Sink: ...
    @property
    def connection(self) -> socket.socket: ...
    def stream_start(self) -> None: ...
    def stopping(self) -> bool: ...


@dataclass(frozen=True)
class EventRoutes:
    store: EventSource

    def handle(self, handler: Handler, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
        """Serve the request if it is ours; False lets the caller answer 404."""
        return handle(handler, self.store, handler.stopping, method, parts, query)


def handle(handler: Handler, store: EventSource, stopping: Callable[[], bool], method: str, parts: list[str],
           query: dict[str, list[str]]) -> bool:
    """Serve the request if it is ours; False lets the caller answer 404."""
    match method, parts:
        case "GET", ["v1", "events"]:
            project = query.get("project", [None])[0]
            after = int(_number(query, "after") or 0)
            since, until = _number(query, "since"), _number(query, "until")
            follow = query.get("follow", ["1"])[0] == "1"
            handler.stream_start()
            connection = handler.connection
            stream(handler.wfile, store, lambda: stopping() or peer_closed(connection), project, after, since,
                   until, follow)
        case _:
            return False
    return True


def stream(out: Sink, store: EventSource, stopping: Callable[[], bool], project: str | None, after: int,
           since: float | None, until: float | None, follow: bool) -> None:
    while True:
        newest = store.last_event_id()
        batch = store.events_since(after, project, BATCH, since)
        for event in batch:
            if until is not None and event.ts > until:
                out.flush()
                return
            after = event.id
            out.write(json.dumps(event.__dict__).encode() + b"\n")
        out.flush()
        if len(batch) == BATCH:
            continue  # more are stored: no waiting, and no end before they are sent
        # Every event up to `newest` has been seen (other projects' too): wait for a newer one only,
        # else another project's events would wake this loop again and again.
        after = max(after, newest)
        now = time.time()
        if not follow or stopping() or (until is not None and now >= until):
            return
        store.wait_for_event(after, WAIT_S if until is None else max(0.0, min(WAIT_S, until - now)))


def _number(query: dict[str, Any], key: str) -> float | None:
    value = query.get(key, [None])[0]
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise EngineError(f"{key} must be a number, not {value!r}") from None
