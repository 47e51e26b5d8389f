"""How CLI results look: tables and log lines with rich, in one module."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
import zlib
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

_COLORS = ["cyan", "yellow", "green", "magenta", "blue", "bright_cyan", "bright_yellow", "bright_green"]
_ANSI = {"cyan": "36", "yellow": "33", "green": "32", "magenta": "35", "blue": "34", "bright_cyan": "96",
         "bright_yellow": "93", "bright_green": "92"}


_MARKUP_LIKE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape(text: str) -> str:
    """rich.markup.escape's rule (imported rich costs ~30 ms a CLI start): a backslash before
    every `[…]` that rich would read as a tag, and before a trailing backslash."""
    text = _MARKUP_LIKE.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        return text + "\\"
    return text


def _ago(ts: float | None) -> str:
    if not ts:
        return ""
    seconds = max(0, int(time.time() - ts))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n > 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def status_text(row: dict[str, Any]) -> str:
    error = row.get("error")
    if row["status"] == "error":
        return f"Error: {error} (not retried until the next `up`)"
    if error:  # a restart its configuration made fail
        return f"{_status_text(row)}, not restarted: {error} (until the next `up`)"
    return _status_text(row)


def _status_text(row: dict[str, Any]) -> str:
    if row["status"] == "running":
        health = (row.get("health") or {}).get("status")
        return f"Up {_ago(row['started_at'])}" + (f" ({health})" if health else "")
    if row["status"] == "exited":
        oom = " (OOMKilled)" if row.get("oom_killed") else ""
        code = "unknown" if row.get("exit_unknown") else row["exit_code"]  # no shim saw it end
        return f"Exited ({code}){oom} {_ago(row['finished_at'])} ago"
    return str(row["status"]).capitalize()


def ps_table(console: Console, rows: list[dict[str, Any]]) -> None:
    headers = ["NAME", "IMAGE", "SERVICE", "STATUS", "RESTARTS", "PORTS"]
    cells = [[r["name"], r["image"], r["service"], status_text(r), str(r["restart_count"]), ", ".join(r["ports"])]
             for r in rows]
    plain = getattr(console, "table", None)
    if plain is not None and plain(headers, cells):
        return  # written as rich would print it, without importing rich (~35 ms of every `ps`)
    from rich.table import Table  # lazily: most commands print no table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in headers:
        table.add_column(col)
    for row in cells:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def images_table(console: Console, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("REFERENCE", "IMAGE ID", "SIZE"):
        table.add_column(col)
    for r in rows:
        size = f"{r['size'] / 1e6:.1f}MB"
        for ref in r["references"] or ["<none>"]:
            table.add_row(escape(ref), r["id"].removeprefix("sha256:")[:12], size)
    console.print(table)


def busy(console: Console, text: str) -> contextlib.AbstractContextManager[object]:
    """A spinner on a terminal; nothing on a pipe, where it would not be drawn anyway (and its
    modules cost a CLI start ~10 ms)."""
    return console.status(text) if console.is_terminal else contextlib.nullcontext()


def up_result(console: Console, result: dict[str, Any]) -> None:
    for c in result["containers"]:
        mark = "[green]✔[/]" if c["status"] == "running" else "[yellow]•[/]"
        console.print(f" {mark} Container {escape(c['name'])}  {escape(status_text(c))}")
    for e in result["errors"]:
        console.print(f" [red]✘[/] {escape(e)}")


def verb_result(console: Console, containers: list[str], done: str, errors: list[str]) -> int:
    """A lifecycle verb's reply (`start`, `restart`, `pause`…): a line per container it acted on,
    one per error; the exit code (1 when any failed)."""
    for c in containers:
        console.print(f" [green]✔[/] Container {escape(c)}  {done}")
    for e in errors:
        console.print(f" [red]✘[/] {escape(e)}")
    return 1 if errors else 0


def down_result(console: Console, result: dict[str, Any]) -> None:
    for name in result["removed"]:
        console.print(f" [green]✔[/] Container {escape(name)}  Removed")
    for name in result.get("volumes", []):
        console.print(f" [green]✔[/] Volume {escape(name)}  Removed")
    for e in result["errors"]:
        console.print(f" [red]✘[/] {escape(e)}")


def prefix_color(container: str) -> str:
    """One color per container, the same in every run (Python's hash() of a str is salted per process)."""
    return _COLORS[zlib.crc32(container.encode()) % len(_COLORS)]


def log_line(record: dict[str, str], timestamps: bool, prefix: bool, color: bool = True,
             stream: TextIO | None = None) -> None:
    """One record as `docker compose logs` prints it: ``name  | text``. The text is the container's,
    written as it is (no markup, no emoji, no tab expansion, its own colours kept); only the
    prefix is coloured, on a terminal."""
    stream = stream or sys.stdout
    parts = []
    if prefix:
        name = record["container"]
        if color and _colour_allowed(stream):
            parts.append(f"\x1b[{_ANSI[prefix_color(name)]}m{name}  |\x1b[0m ")
        else:
            parts.append(f"{name}  | ")
    if timestamps and record.get("time"):
        parts.append(record["time"] + " ")
    parts.append(record["text"])
    stream.write("".join(parts) + "\n")
    stream.flush()


def _colour_allowed(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def top(console: Console, containers: list[dict[str, Any]]) -> None:
    from rich.table import Table

    for c in containers:
        console.print(escape(c["name"]), style="bold")
        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("UID", "PID", "PPID", "TIME", "CMD"):
            table.add_column(col)
        for p in c["processes"]:
            minutes, seconds = divmod(int(p["time"]), 60)
            table.add_row(str(p["uid"]), str(p["pid"]), str(p["ppid"]), f"{minutes:02d}:{seconds:02d}",
                          escape(p["cmd"]))
        console.print(table)
        console.print()
