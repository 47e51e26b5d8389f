"""The CLI's two consoles, with rich imported only when something needs it.

Importing rich costs every CLI start ~30 ms, while the commands scripts run most (`up -d`,
`down`, `ps -q`, `stop`) print a few lines of simple markup. So a line of plain text with the
colour tags below is written here; anything else (a table, a spinner, a style, a line rich would
wrap or put an emoji in) goes to a real rich Console, made on first use, and from then on every
line does, so the output is what rich prints either way.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 250  # not a terminal (a pipe, a test): wide enough that lines are never cut
_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36",
            "bold": "1", "dim": "2"}
_TAG = re.compile(r"(\\*)\[([a-z#/@][^[]*?)]")  # rich's markup tag, with the backslashes before it
_FORCED = {"FORCE_TERMINAL", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS"}
_EMOJI = re.compile(r":[\w\-+]+?:")  # what rich might turn into an emoji: left to rich


class LazyConsole:
    """Duck-types rich's Console: `print` of plain markup is written directly, the rest delegated."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._rich: Console | None = None

    def _stream(self) -> TextIO:
        return sys.stderr if self._stderr else sys.stdout

    def _console(self) -> Console:
        if self._rich is None:
            from rich.console import Console

            tty = self._stream().isatty()
            self._rich = Console(stderr=self._stderr, highlight=False, width=None if tty else PIPE_WIDTH)
        return self._rich

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console(), name)

    @property
    def is_terminal(self) -> bool:
        """Asked before every spinner: answered without rich unless the environment overrides it."""
        if self._rich is None and not _FORCED.intersection(os.environ):
            return self._stream().isatty()
        return bool(self._console().is_terminal)

    def table(self, headers: list[str], rows: list[list[str]]) -> bool:
        """Write a table as rich's `Table(box=None, pad_edge=False, header_style="bold")` prints it
        (columns as wide as their widest cell, two spaces apart, the header bold on a terminal) when
        that is plain to see: printable ASCII that fits the width. False: the caller uses rich."""
        if self._rich is not None or any(not cell.isascii() or not cell.isprintable()
                                         for row in [headers, *rows] for cell in row):
            return False
        widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
        stream = self._stream()
        width = os.get_terminal_size(stream.fileno()).columns if stream.isatty() else PIPE_WIDTH
        if sum(widths) + 2 * (len(widths) - 1) > width:
            return False  # rich would shrink and wrap columns
        colour = stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [headers, *rows]]
        if colour:
            lines[0] = f"\x1b[1m{lines[0]}\x1b[0m"
        stream.write("\n".join(lines) + "\n")
        stream.flush()
        return True

    def print(self, *objects: Any, **kwargs: Any) -> None:
        text = _plain_line(objects, kwargs, self._stream()) if self._rich is None else None
        if text is None:
            self._console().print(*objects, **kwargs)
            return
        stream = self._stream()
        stream.write(text + "\n")
        stream.flush()


def _plain_line(objects: tuple[Any, ...], kwargs: dict[str, Any], stream: TextIO) -> str | None:
    """The line rich would print, when it is simple enough to know for sure; else None."""
    if len(objects) != 1 or not isinstance(objects[0], str) or set(kwargs) - {"markup", "highlight", "soft_wrap"}:
        return None
    if kwargs.get("highlight"):
        return None
    markup, source = kwargs.get("markup", True), objects[0]
    if "\n" in source or "\t" in source or "\x1b" in source or _EMOJI.search(source) or not source.isprintable():
        return None
    colour = stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    text = _render(source, colour) if markup else source
    if text is None:
        return None
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    width = os.get_terminal_size(stream.fileno()).columns if stream.isatty() else PIPE_WIDTH
    if len(plain) > width and not kwargs.get("soft_wrap"):
        return None  # rich would wrap it
    return text


def _render(markup: str, colour: bool) -> str | None:
    """rich's markup rules for the colour tags above (`\\[` is a literal bracket); None for others."""
    out: list[str] = []
    open_tags: list[str] = []
    position = 0
    for match in _TAG.finditer(markup):
        backslashes, tag = match.group(1), match.group(2)
        out.append(markup[position:match.start()])
        position = match.end()
        out.append("\\" * (len(backslashes) // 2))
        if len(backslashes) % 2:  # escaped: the tag is text
            out.append(f"[{tag}]")
            continue
        if tag.startswith("/"):
            name = tag[1:]
            if not open_tags or (name and name != open_tags[-1]):
                return None  # rich would raise or match differently: let it
            open_tags.pop()
            if colour:
                out.append("\x1b[0m" + "".join(f"\x1b[{_COLOURS[t]}m" for t in open_tags))
        elif tag in _COLOURS:
            open_tags.append(tag)
            if colour:
                out.append(f"\x1b[{_COLOURS[tag]}m")
        else:
            return None
    out.append(markup[position:])
    if open_tags and colour:
        out.append("\x1b[0m")
    return "".join(out)


def real_console(console: Console) -> Console:
    """rich's own Console behind one of ours: rich's Live and Status work only on the real one."""
    if isinstance(console, LazyConsole):
        return console._console()
    return console


# One of each for the whole CLI; typed as rich's Console, which they stand in for.
out = cast("Console", LazyConsole(stderr=False))
err = cast("Console", LazyConsole(stderr=True))
