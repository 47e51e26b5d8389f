"""The event stream of the API over a store: batches, since/until, and no busy loop on others' events."""

from __future__ import annotations

import io
import json

from orchestrator.engine.events_api import BATCH, stream
from orchestrator.engine.store import Event


class FakeStore:
    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.waits: list[tuple[int, float]] = []

    def events_since(self, after_id: int, project: str | None = None, limit: int = 500,
                     since: float | None = None) -> list[Event]:
        found = [e for e in self.events if e.id > after_id and (project is None or e.project == project)
                 and (since is None or e.ts >= since)]
        return found[:limit]

    def last_event_id(self) -> int:
        return max((e.id for e in self.events), default=0)

    def wait_for_event(self, after_id: int, timeout: float) -> None:
        self.waits.append((after_id, timeout))
        if len(self.waits) > 3:
            raise AssertionError("still waiting")


def _events(count: int, project: str = "p", start: int = 1) -> list[Event]:
    return [Event(i, float(i), project, "container-start", f"c{i}", {}) for i in range(start, start + count)]


def _sent(out: io.BytesIO) -> list[int]:
    return [json.loads(line)["id"] for line in out.getvalue().splitlines()]


def test_everything_stored_is_sent_without_follow_even_beyond_one_batch() -> None:
    out = io.BytesIO()
    stream(out, FakeStore(_events(BATCH + 3)), lambda: False, "p", 0, None, None, follow=False)
    assert _sent(out) == list(range(1, BATCH + 4))


def test_since_and_until_bound_the_stream() -> None:
    out = io.BytesIO()
    stream(out, FakeStore(_events(10)), lambda: False, "p", 0, 3.0, 6.0, follow=True)
    assert _sent(out) == [3, 4, 5, 6]   # ended at the first event after `until`, though following


def test_following_waits_after_the_newest_event_of_any_project() -> None:
    store = FakeStore(_events(2) + _events(3, project="other", start=3))
    out = io.BytesIO()
    stopping = iter([False, True])
    stream(out, store, lambda: next(stopping), "p", 0, None, None, follow=True)
    assert _sent(out) == [1, 2]
    assert store.waits == [(5, 1.0)]   # not (2, …): the other project's events would wake it at once


def test_a_client_that_hung_up_is_noticed_without_a_write() -> None:
    import socket

    from orchestrator.engine.peer import peer_closed

    server, client = socket.socketpair()
    with server, client:
        assert not peer_closed(server)
        client.sendall(b"x")           # data waiting is not a hang-up
        assert not peer_closed(server) and server.recv(1) == b"x"
        client.close()
        assert peer_closed(server)
