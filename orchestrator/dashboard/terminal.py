"""The terminal under the interactive dashboard: raw keys, the alternate screen, and giving both back.

Keys are read without waiting for Enter and without echo (no canonical mode, no echo, no signals
from Ctrl-C/Ctrl-Z, no Ctrl-S flow control), but output processing stays on, so rich's newlines
still return the carriage. Frames are drawn on the alternate screen (the shell's screen is back
untouched on exit) with the cursor hidden. `suspended()` hands the terminal back as it was found,
for a shell run from the dashboard, and takes it again after.
"""

from __future__ import annotations

import os
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, RenderableType
from rich.control import Control
from rich.screen import Screen as FullScreen


class Terminal:
    def __init__(self, console: Console, fd: int) -> None:
        self.console = console
        self.fd = fd
        self._saved: list[Any] | None = None

    def enter(self) -> None:
        self._saved = termios.tcgetattr(self.fd)
        mode = termios.tcgetattr(self.fd)
        mode[0] &= ~(termios.IXON | termios.ICRNL | termios.INLCR | termios.IGNCR)           # iflag
        mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)          # lflag
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        self.console.set_alt_screen(True)
        self.console.show_cursor(False)

    def leave(self) -> None:
        """Give the terminal back as it was: cursor, main screen, line discipline."""
        self.console.show_cursor(True)
        self.console.set_alt_screen(False)
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    @contextmanager
    def suspended(self) -> Iterator[None]:
        self.leave()
        try:
            yield
        finally:
            self.enter()

    def read_keys(self) -> bytes:
        """What the terminal sent (call when the descriptor is readable); b"" at its end."""
        try:
            return os.read(self.fd, 4096)
        except OSError:
            return b""

    def size(self) -> tuple[int, int]:
        width, height = os.get_terminal_size(self.fd)
        return width, height

    def draw(self, renderable: RenderableType) -> None:
        """One frame over the whole screen, from the top left, without scrolling."""
        width, height = self.size()
        self.console.size = (width, height)
        self.console.control(Control.home())
        self.console.print(FullScreen(renderable), end="")
