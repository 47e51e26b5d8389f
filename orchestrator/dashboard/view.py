"""The interactive dashboard's screen for a `State` at a terminal size (pure: rich renderables only).

From the top: a title line (project, time of the sample, what is going on), the list of services
each followed by its containers (the selection in reverse video, scrolled to stay visible), a line
of details about the selection, the open pane (logs, rollout, events, help) and the keys. Every
part has a known height, so the frame fills the terminal exactly, from 80×24 over SSH to a large
screen, where more columns appear.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from orchestrator.dashboard.frame import health_text, replicas_text, rollout_text, size
from orchestrator.dashboard.model import (
    HELP,
    State,
    Target,
    confirm_question,
    container_of,
    pane_events,
    rows,
    selected_index,
)
from orchestrator.dashboard.snapshot import ContainerView, ServiceView, Snapshot

WIDE = 100     # from this width on: pids, uptime, ports and rollout columns
MIN_TABLE = 4  # rows the list keeps (header included) when a pane is open
SELECTED = "▶ "
KEY_HINTS = (("↑↓", "select"), ("⏎", "logs"), ("r", "restart"), ("s", "stop"), ("S", "start"), ("e", "shell"),
             ("o", "rollout"), ("b", "rollback"), ("v", "events"), ("?", "help"), ("q", "quit"))
_STATUS_STYLE = {"running": "green", "exited": "red", "paused": "yellow", "created": "dim"}
_LEVEL_STYLE = {"info": "cyan", "ok": "green", "error": "red"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]|\x1b(?!\[[0-9;]*m)(\[[0-?]*[ -/]*[@-~]|.)?")


def duration(seconds: float) -> str:
    """A short age: 42s, 5m, 3h, 2d."""
    seconds = max(0, int(seconds))
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds // span}{unit}"
    return f"{seconds}s"


def footer_lines(state: State, width: int) -> list[Text]:
    """The keys, packed into as few lines as the width allows; a pending question replaces them."""
    if state.confirm is not None:
        line = Text(f" {confirm_question(state.confirm)} ", style="bold black on yellow", no_wrap=True,
                    overflow="ellipsis")
        line.append("  y yes · any other key no", style="yellow")
        return [line]
    lines: list[Text] = [Text(no_wrap=True, overflow="ellipsis")]
    for key, what in KEY_HINTS:
        piece = len(key) + 1 + len(what)
        if lines[-1].cell_len and lines[-1].cell_len + 2 + piece > width:
            lines.append(Text(no_wrap=True, overflow="ellipsis"))
        if lines[-1].cell_len:
            lines[-1].append("  ")
        lines[-1].append(key, style="bold cyan")
        lines[-1].append(" " + what, style="dim")
    return lines


def title_line(state: State, width: int) -> Text:
    snapshot = state.snapshot
    text = Text("pyorch", style="bold")
    if snapshot is not None:
        stamp = dt.datetime.fromtimestamp(snapshot.taken_at).strftime("%H:%M:%S")
        text.append(f" · {snapshot.project} · {stamp}")
    if state.error:
        text.append(f"  engine: {state.error}", style="bold red")
    elif state.busy:
        text.append(f"  {state.busy}", style="bold yellow")
    elif state.message:
        text.append(f"  {state.message}", style=_LEVEL_STYLE[state.message_level])
    text.truncate(width, overflow="ellipsis")
    return text


def _short(snapshot: Snapshot, name: str) -> str:
    prefix = f"{snapshot.project}-"
    return name[len(prefix):] if name.startswith(prefix) else name


def _service_cells(service: ServiceView, wide: bool, mark: str) -> list[RenderableType]:
    cells: list[RenderableType] = [
        Text(mark + service.name, style="bold"), replicas_text(service), health_text(service.health),
        str(service.restarts), "-" if service.cpu_percent is None else f"{service.cpu_percent:.1f}",
        size(service.memory_bytes) if service.running else "-",
    ]
    if wide:
        cells += [str(service.pids) if service.running else "-", "", ", ".join(service.ports) or "-",
                  rollout_text(service.rollout)]
    return cells


def _container_cells(snapshot: Snapshot, c: ContainerView, wide: bool, mark: str) -> list[RenderableType]:
    status = c.status if c.status != "exited" or c.exit_code is None else f"exited ({c.exit_code})"
    cells: list[RenderableType] = [
        Text(f"{mark}└ {_short(snapshot, c.name)}"), Text(status, style=_STATUS_STYLE.get(c.status, "")),
        Text(c.health or "-", style={"healthy": "green", "starting": "yellow", "unhealthy": "red"}.get(
            c.health or "", "dim")),
        str(c.restarts), "-" if c.cpu_percent is None else f"{c.cpu_percent:.1f}", size(c.memory_bytes),
    ]
    if wide:
        up = duration(snapshot.taken_at - c.started_at) if c.started_at and c.status == "running" else "-"
        cells += ["-" if c.pids is None else str(c.pids), up, "", ""]
    return cells


def list_table(state: State, width: int, height: int) -> Table:
    """The services and their containers: ``height`` lines, header included."""
    wide = width >= WIDE
    table = Table(box=None, pad_edge=False, expand=True, header_style="bold", show_edge=False)
    columns = [("  NAME", 3), ("STATE", 0), ("HEALTH", 0), ("RST", 0), ("CPU %", 0), ("MEM", 0)]
    if wide:
        columns += [("PIDS", 0), ("UP", 0), ("PORTS", 2), ("ROLLOUT", 2)]
    for name, ratio in columns:
        table.add_column(name, no_wrap=True, overflow="ellipsis", ratio=ratio or None,
                         justify="right" if name in ("RST", "CPU %", "MEM", "PIDS", "UP") else "left")
    snapshot = state.snapshot
    if snapshot is None:
        return table
    listed = rows(snapshot)
    visible = max(0, height - 1)
    chosen = selected_index(state)
    start = min(max(0, chosen - visible // 2), max(0, len(listed) - visible))
    services = {s.name: s for s in snapshot.services}
    containers = {c.name: c for c in snapshot.containers}
    for index in range(start, min(len(listed), start + visible)):
        target = listed[index]
        mark = SELECTED if index == chosen else "  "   # seen without colours too
        cells = (_service_cells(services[target.service], wide, mark) if target.container is None
                 else _container_cells(snapshot, containers[target.container], wide, mark + " "))
        table.add_row(*cells, style="reverse" if index == chosen else None)
    return table


def detail_line(state: State, width: int) -> Text:
    """More about the selection than the columns hold."""
    snapshot, target = state.snapshot, state.selected
    text = Text()
    if snapshot is None or target is None:
        text.append("waiting for the first sample…" if state.error is None else "", style="dim")
        return text
    container = container_of(snapshot, target)
    if container is not None:
        text.append(container.name, style="bold")
        text.append(f"  id {container.id[:12]}")
        if container.pid is not None:
            text.append(f"  pid {container.pid}")
        if container.status == "running" and container.started_at:
            text.append(f"  up {duration(snapshot.taken_at - container.started_at)}")
        if container.status == "exited" and container.exit_code is not None:
            text.append(f"  exit code {container.exit_code}", style="red" if container.exit_code else "")
        text.append(f"  restarts {container.restarts}")
        if container.image:
            text.append(f"  {container.image}", style="dim")
    else:
        service = next(s for s in snapshot.services if s.name == target.service)
        desired = "?" if service.desired is None else str(service.desired)
        text.append(f"service {service.name}", style="bold")
        text.append(f"  {service.running}/{desired} running  {service.containers} containers  "
                    f"restarts {service.restarts}")
        if service.ports:
            text.append(f"  {', '.join(service.ports)}", style="dim")
        if service.rollout is not None:
            text.append("  ")
            text.append_text(rollout_text(service.rollout))
    text.truncate(width, overflow="ellipsis")
    return text


def log_text(line: str) -> Text:
    """A line a container printed: its colours kept, anything that would move the cursor dropped."""
    text = Text.from_ansi(_CONTROL.sub("", line))
    text.expand_tabs(4)
    return text


def _event_line(event: dict[str, Any]) -> Text:
    when = dt.datetime.fromisoformat(event["time"]).strftime("%H:%M:%S")
    subject = event["attributes"].get("name") or event["id"]
    detail = " ".join(f"{k}={v}" for k, v in event["attributes"].items() if k != "name")
    line = Text(f"{when} ", style="dim")
    line.append(f"{event['action']} ", style="bold")
    line.append(f"{subject} {detail}".rstrip())
    return line


def pane_lines(state: State, inner: int) -> tuple[str, list[Text]]:
    """The open pane's title and its last ``inner`` lines."""
    target = state.pane_target or Target("")
    if state.pane == "logs":
        end = len(state.logs) - state.log_scroll
        shown = [log_text(line) for line in state.logs[max(0, end - inner):end]]
        where = "following" if state.log_scroll == 0 else f"{state.log_scroll} lines back · PgDn to follow"
        if not state.logs:
            shown = [Text("no output yet", style="dim")]
        return f"logs · {target.label()} ({where})", shown
    if state.pane == "help":
        return "keys", [Text.assemble((f"{keys:<10}", "bold cyan"), what) for keys, what in HELP][:inner]
    events = [_event_line(e) for e in pane_events(state)]
    if state.pane == "events":
        return "events", events[-inner:] or [Text("no events since the dashboard started", style="dim")]
    service = None if state.snapshot is None else next(
        (s for s in state.snapshot.services if s.name == target.service), None)
    head: list[Text] = []
    if service is None or service.rollout is None:
        head.append(Text("no rolling update yet (deploy.update_config; b rolls back)", style="dim"))
    else:
        r = service.rollout
        line = rollout_text(r)
        line.append(f"  {r.updated} of {r.total} replicas updated")
        head.append(line)
        if r.message:
            head.append(Text(r.message, style="yellow"))
    tail = events[-max(0, inner - len(head)):] if inner > len(head) else []
    return f"rollout · service {target.service}", (head + tail)[:inner]


def render(state: State, width: int, height: int) -> RenderableType:
    """The whole screen, ``height`` lines or fewer (the keys stay at the bottom)."""
    footer = footer_lines(state, width)
    if height < len(footer) + 4:   # a tiny terminal: the list first, one line of keys
        footer = footer[:1] if height >= 4 else []
    available = max(0, height - 2 - len(footer))   # the title and detail lines
    listed = len(rows(state.snapshot))
    if state.pane == "none":
        table_height, pane_height = available, 0
    else:
        table_height = min(1 + listed, max(MIN_TABLE, available * 2 // 5), available)
        pane_height = available - table_height
    parts: list[RenderableType] = [title_line(state, width)]
    if table_height >= 1:
        parts.append(list_table(state, width, table_height))
        parts += [Text("")] * max(0, table_height - 1 - min(listed, table_height - 1))  # the keys stay down
    if height >= 2:
        parts.append(detail_line(state, width))
    if pane_height >= 3:
        title, lines = pane_lines(state, pane_height - 2)
        for line in lines:
            line.no_wrap = True
            line.overflow = "ellipsis"
        parts.append(Panel(Group(*lines), title=title, title_align="left", height=pane_height,
                           border_style="blue", padding=(0, 1)))
    parts += footer
    return Group(*parts)
