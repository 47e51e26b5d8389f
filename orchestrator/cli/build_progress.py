"""Build progress on the terminal, as Compose v2 (BuildKit's printers) shows it.

``plain`` (a pipe, CI, ``--progress plain``): each step's lines prefixed with its number, the
header again whenever the output switches to another step (stages build side by side)::

    #5 [web build 2/4] RUN make
    #5 0.231 cc -o app main.c
    #5 DONE 1.4s

    #6 [web 3/3] COPY --from=build /src/app /app
    #6 CACHED

``tty`` (a terminal): a live list of steps, ``=>`` per step with its time, the last lines of the
running ones, under a ``[+] Building 3.2s (7/9)`` header that ends ``FINISHED``. ``quiet`` shows
nothing. ``auto`` (the default) is tty on a terminal, plain otherwise.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

MODES = ("auto", "tty", "plain", "quiet")
_TAIL = 6  # lines of a running step's output the tty view keeps (BuildKit shows a few)


class Printer(Protocol):
    def event(self, event: dict[str, Any]) -> None: ...

    def close(self, ok: bool) -> None: ...


def printer(mode: str, stream: TextIO | None = None) -> Printer:
    out = stream or sys.stderr
    if mode == "auto":
        mode = "tty" if out.isatty() else "plain"
    if mode == "quiet":
        return QuietPrinter()
    if mode == "tty":
        return TtyPrinter(out)
    return PlainPrinter(out)


class QuietPrinter:
    def event(self, event: dict[str, Any]) -> None:
        pass

    def close(self, ok: bool) -> None:
        pass


class PlainPrinter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.names: dict[int, str] = {}
        self.last: int | None = None

    def _write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _switch(self, vertex: int) -> None:
        if self.last != vertex:
            self._write("")
            self._write(f"#{vertex} {self.names.get(vertex, '')}")
            self.last = vertex

    def event(self, event: dict[str, Any]) -> None:
        kind, text, vertex = event.get("build"), str(event.get("text", "")), int(event.get("vertex") or 0)
        if kind == "service":
            self._write(f"Building {text}")
            self.last = None
        elif kind == "note":
            self._write(text)
            self.last = None
        elif kind == "vertex":
            status = event.get("status")
            if status == "started":
                self.names[vertex] = text
                self.last = None
                self._switch(vertex)
                return
            self._switch(vertex)
            if status == "cached":
                self._write(f"#{vertex} CACHED")
            elif status == "error":
                self._write(f"#{vertex} ERROR {float(event.get('elapsed', 0)):.1f}s")
            else:
                self._write(f"#{vertex} DONE {float(event.get('elapsed', 0)):.1f}s")
        elif kind == "log":
            self._switch(vertex)
            when = f"{float(event['elapsed']):.3f} " if "elapsed" in event else ""
            self._write(f"#{vertex} {when}{text}")

    def close(self, ok: bool) -> None:
        pass


@dataclass
class _Step:
    name: str
    started: float
    status: str = "started"
    elapsed: float = 0.0
    tail: list[str] = field(default_factory=list)


class TtyPrinter:
    """A rich Live view, redrawn on each event and a few times a second."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=out)
        self.started = time.monotonic()
        self.stopped: float | None = None
        self.steps: dict[int, _Step] = {}
        self.notes: list[str] = []
        self.service = ""
        self.ending: bool | None = None  # None while building; then whether it succeeded
        self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False,
                         get_renderable=self._render)
        self.live.start()

    def event(self, event: dict[str, Any]) -> None:
        kind, text, vertex = event.get("build"), str(event.get("text", "")), int(event.get("vertex") or 0)
        if kind == "service":
            self.service = text
        elif kind == "note":
            self.notes.append(text)
        elif kind == "vertex":
            if event.get("status") == "started":
                self.steps[vertex] = _Step(text, time.monotonic())
            elif vertex in self.steps:
                step = self.steps[vertex]
                step.status = str(event.get("status"))
                step.elapsed = float(event.get("elapsed", 0))
        elif kind == "log" and vertex in self.steps:
            tail = self.steps[vertex].tail
            tail.append(text)
            del tail[:-_TAIL]
        self.live.refresh()

    def close(self, ok: bool) -> None:
        self.ending = ok
        self.live.stop()

    def _render(self) -> Any:
        from rich.text import Text

        width = max(40, self.console.width)
        done = sum(1 for s in self.steps.values() if s.status != "started")
        if self.ending is not None and self.stopped is None:
            self.stopped = time.monotonic()
        header = f"[+] Building {(self.stopped or time.monotonic()) - self.started:.1f}s ({done}/{len(self.steps)})"
        if self.ending is not None:
            header += " FINISHED" if self.ending else " ERROR"
        text = Text()
        text.append(header + "\n", style="bold" if self.ending is not None else "")
        for step in self.steps.values():
            running = step.status == "started"
            elapsed = time.monotonic() - step.started if running else step.elapsed
            label = {"cached": "CACHED ", "error": "ERROR "}.get(step.status, "")
            left = f" => {label}{step.name}"
            right = f"{elapsed:.1f}s"
            room = width - len(right) - 1
            line = left[:room].ljust(room) + " " + right
            style = "red" if step.status == "error" else ("blue" if running else "")
            text.append(line + "\n", style=style)
            if running or step.status == "error":
                for out_line in step.tail:
                    text.append(f" => => # {out_line}"[:width] + "\n", style="dim")
        for note in self.notes:
            text.append(note + "\n", style="yellow")
        return text
