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
from typing import Any, Protocol, TextIO

MODES = ("auto", "tty", "plain", "quiet")


class Printer(Protocol):
    def event(self, event: dict[str, Any]) -> None: ...

    def close(self, ok: bool) -> None: ...


def printer(mode: str, stream: TextIO | None = None) -> Printer:
    out = stream or sys.stderr
    if mode == "auto":
        mode = "tty" if out.isatty() else "plain"
    if mode == "quiet":
        return QuietPrinter()
    if mode == "tty":  # its own module: it uses rich, and a dataclass (~8 ms of imports a CLI start)
        from orchestrator.cli.build_progress_tty import TtyPrinter

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
