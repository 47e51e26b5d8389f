"""Build progress as BuildKit reports it: numbered steps ("vertices") that start, log, end.

Each step that does work (FROM, RUN, COPY, ADD, WORKDIR, and the build's own bookkeeping such as
"exporting to image") is a vertex ``#N`` with a name like ``[build 2/4] RUN make``; it starts, may
print lines (with the seconds since it started), and ends done, cached or in error. Metadata
instructions (ENV, LABEL, CMD, …) are not vertices, as in BuildKit. Every vertex's start and end
time is kept in a `StepRecord`, so a caller can see which steps ran at the same time.

The listener is called from the threads that build stages side by side: it must be thread-safe
(the engine's is a queue).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BuildEvent:
    kind: str             # vertex | log | note
    text: str             # vertex: its name; log: one line of output; note: a message
    vertex: int = 0       # the step's number (#N); 0 for a note
    status: str = ""      # vertex: started | done | cached | error
    elapsed: float = 0.0  # log: seconds since the vertex started; done/error: its duration
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"build": self.kind, "text": self.text}
        if self.vertex:
            out["vertex"] = self.vertex
        if self.status:
            out["status"] = self.status
        if self.elapsed:
            out["elapsed"] = round(self.elapsed, 3)
        if self.cached:
            out["cached"] = True
        return out


Listener = Callable[[BuildEvent], None]


@dataclass(frozen=True)
class StepRecord:
    """When one vertex ran (epoch seconds), and how it ended."""

    vertex: int
    name: str
    stage: str
    started: float
    finished: float
    cached: bool
    status: str

    def to_json(self) -> dict[str, Any]:
        return {"vertex": self.vertex, "name": self.name, "stage": self.stage, "started": self.started,
                "finished": self.finished, "cached": self.cached, "status": self.status}


@dataclass
class Vertex:
    """One running step; `log` lines, then exactly one of `done`, `cached`, `fail`."""

    progress: Progress
    number: int
    name: str
    stage: str
    started: float = field(default_factory=time.time)
    _clock: float = field(default_factory=time.monotonic)
    ended: bool = False

    def log(self, text: str) -> None:
        self.progress.emit(BuildEvent("log", text, self.number, elapsed=time.monotonic() - self._clock))

    def status(self, text: str) -> None:
        """A line about the step itself (no time in front), like BuildKit's "writing image … done"."""
        self.progress.emit(BuildEvent("log", text, self.number))

    def done(self) -> None:
        self._end("done")

    def cached(self) -> None:
        self._end("cached")

    def fail(self) -> None:
        self._end("error")

    def _end(self, status: str) -> None:
        if self.ended:
            return
        self.ended = True
        duration = time.monotonic() - self._clock
        self.progress.finish(StepRecord(self.number, self.name, self.stage, self.started, self.started + duration,
                                        status == "cached", status))
        self.progress.emit(BuildEvent("vertex", self.name, self.number, status, elapsed=duration,
                                      cached=status == "cached"))


class VertexNumbers:
    """Step numbers shared by builds that report to one listener (a project's services building at
    once), so that each ``#N`` names one step; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> int:
        with self._lock:
            self._last += 1
            return self._last


class Progress:
    """Numbers vertices in the order they start and keeps their records; thread-safe."""

    def __init__(self, listener: Listener, prefix: str = "", numbers: VertexNumbers | None = None) -> None:
        self.listener = listener
        self.prefix = prefix  # Compose puts the service name in front: "[web build 2/4]"
        self.numbers = numbers or VertexNumbers()
        self._lock = threading.Lock()
        self.records: list[StepRecord] = []

    def start(self, name: str, stage: str = "") -> Vertex:
        number = self.numbers.next()
        vertex = Vertex(self, number, name, stage)
        self.emit(BuildEvent("vertex", name, number, "started"))
        return vertex

    def step(self, stage_label: str, index: int, total: int, text: str, stage: str) -> Vertex:
        """A Dockerfile step: ``[web build 2/4] RUN make`` (service, stage, position in the stage)."""
        where = " ".join(p for p in (self.prefix, stage_label, f"{index}/{total}") if p)
        return self.start(f"[{where}] {text}", stage)

    def internal(self, text: str) -> Vertex:
        where = " ".join(p for p in (self.prefix, "internal") if p)
        return self.start(f"[{where}] {text}")

    def note(self, text: str) -> None:
        self.emit(BuildEvent("note", text))

    def emit(self, event: BuildEvent) -> None:
        self.listener(event)

    def finish(self, record: StepRecord) -> None:
        with self._lock:
            self.records.append(record)
