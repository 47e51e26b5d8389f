"""The dashboard's streams outlive the engine: a stream that ends or fails is opened again, the
events resume after the last one shown and a logs pane leaves out the lines it already shows."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from typing import Any

from orchestrator.dashboard import live
from orchestrator.dashboard.live import Feed, Loop
from orchestrator.dashboard.model import State, Target
from orchestrator.errors import EngineUnavailable


class Stream:
    """A subscription that yields ``items``, then ends, or (``hold``) waits until closed."""

    def __init__(self, items: list[dict[str, Any]], hold: bool = False) -> None:
        self.items, self.hold = items, hold
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self.items
        if self.hold:
            self.closed.wait(10)

    def close(self) -> None:
        self.closed.set()


class Engine:
    """Answers the paths the dashboard opens with scripted streams; None: the engine is down."""

    def __init__(self, script: list[Stream | None]) -> None:
        self.script = script
        self.paths: list[str] = []
        self.done = threading.Event()

    def subscribe(self, path: str, autostart: bool = True) -> Stream:
        assert autostart is False, "a dashboard never starts an engine"
        self.paths.append(path)
        step = self.script.pop(0) if self.script else Stream([], hold=True)
        if not self.script:
            self.done.set()
        if step is None:
            raise EngineUnavailable("the engine is not running")
        return step

    def request(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        return []  # ps: no containers


def test_a_feed_opens_its_stream_again_after_an_end_and_a_refusal() -> None:
    engine = Engine([Stream([{"n": 1}, {"n": 2}]), None, None, Stream([{"n": 3}], hold=True)])
    seen: list[int] = []
    news: list[str] = []
    feed = Feed(lambda: engine.subscribe("/x", autostart=False), lambda item: seen.append(item["n"]),
                news.append, retry_s=0.01, recovered=lambda: news.append("back"))
    assert engine.done.wait(10)
    for _ in range(500):
        if seen == [1, 2, 3]:
            break
        threading.Event().wait(0.01)
    feed.close()
    feed.join(5)
    assert seen == [1, 2, 3]
    assert news == ["the engine closed the stream; reconnecting", "back"]   # one outage, said once
    assert feed.connections == 2


def _loop(engine: Engine) -> Loop:
    loop = Loop.__new__(Loop)  # the parts the streams use, without a terminal or a sampler thread
    loop.client, loop.project, loop.inbox = engine, "shop", queue.SimpleQueue()  # type: ignore[assignment]
    loop.wake_r, loop.wake_w = os.pipe()
    loop.logs = loop.events = None
    return loop


def _closed(loop: Loop) -> None:
    os.close(loop.wake_r)
    os.close(loop.wake_w)


def _applied(loop: Loop, state: State) -> State:
    while not loop.inbox.empty():
        state = loop.inbox.get()(state)
    return state


def test_events_resume_after_the_last_one_shown(monkeypatch: Any) -> None:
    monkeypatch.setattr(live, "RETRY_S", 0.01)
    def event(number: int, kind: str) -> dict[str, Any]:
        return {"id": number, "ts": float(number), "project": "shop", "kind": kind, "subject": "shop-web-1",
                "detail": {}}

    engine = Engine([Stream([event(7, "container.start"), event(9, "container.die")]),
                     None, Stream([], hold=True)])
    loop = _loop(engine)
    loop._follow_events()
    assert engine.done.wait(10)
    assert loop.events is not None
    loop.events.close()
    _closed(loop)
    assert len(_applied(loop, State()).events) == 2
    assert "since=" in engine.paths[0] and "after=" not in engine.paths[0]
    assert all("after=9&" in path for path in engine.paths[1:])


def test_a_logs_pane_leaves_out_the_lines_it_shows_when_the_stream_comes_back(monkeypatch: Any) -> None:
    monkeypatch.setattr(live, "RETRY_S", 0.01)

    def line(container: str, at: str, text: str) -> dict[str, Any]:
        return {"container": container, "service": "web", "stream": "stdout", "time": at, "text": text}

    first = [line("shop-web-1", "2026-01-01T00:00:01.000000000+00:00", "one"),
             line("shop-web-2", "2026-01-01T00:00:02.000000000+00:00", "two")]
    again = [*first, line("shop-web-1", "2026-01-01T00:00:03.000000000+00:00", "three")]  # the tail, sent again
    engine = Engine([Stream(first), None, Stream(again, hold=True)])
    loop = _loop(engine)
    target = Target("web")
    state = State(pane="logs", pane_target=target)
    loop._follow_logs(target)
    assert engine.done.wait(10)
    for _ in range(500):
        state = _applied(loop, state)
        if any("three" in text for text in state.logs):
            break
        threading.Event().wait(0.01)
    assert loop.logs is not None
    loop.logs.close()
    _closed(loop)
    assert [text.split(" | ")[1] for text in state.logs] == ["one", "two", "three"]
    assert state.message == "logs: following again"
