"""The `tty` build progress (`build_progress.py`): a live list of steps under a `[+] Building`
header, as BuildKit's tty printer shows it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TextIO

_TAIL = 6  # lines of a running step's output the tty view keeps (BuildKit shows a few)


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
