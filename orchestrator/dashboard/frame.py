"""One dashboard frame as rich renderables, from a `Snapshot` (pure: no engine, no clock)."""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from orchestrator.dashboard.snapshot import RolloutView, ServiceView, Snapshot

_HEALTH_STYLE = {"healthy": "green", "starting": "yellow", "unhealthy": "red"}


def size(value: int | None) -> str:
    if value is None:
        return "-"
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{int(amount)}{unit}" if unit == "B" else f"{amount:.1f}{unit}"
        amount /= 1024
    return str(value)


def replicas_text(service: ServiceView) -> Text:
    desired = "?" if service.desired is None else str(service.desired)
    ok = service.desired is not None and service.running == service.desired
    return Text(f"{service.running}/{desired}", style="green" if ok else "yellow")


def health_text(counts: dict[str, int]) -> Text:
    if not counts:
        return Text("-", style="dim")
    text = Text()
    for status in ("healthy", "starting", "unhealthy"):
        if counts.get(status):
            if text:
                text.append(" ")
            text.append(f"{counts[status]} {status}", style=_HEALTH_STYLE[status])
    return text


def rollout_text(rollout: RolloutView | None) -> Text:
    if rollout is None:
        return Text("-", style="dim")
    style = {"updating": "cyan", "rollback_started": "magenta", "completed": "green",
             "rollback_completed": "yellow", "paused": "red", "rollback_paused": "red"}.get(rollout.status, "")
    text = Text(f"{rollout.kind} {rollout.status} {rollout.updated}/{rollout.total}", style=style)
    if rollout.failed:
        text.append(f" ({rollout.failed} failed)", style="red")
    return text


def services_table(snapshot: Snapshot) -> Table:
    table = Table(expand=True, box=None, pad_edge=False, header_style="bold")
    for column, justify in (("SERVICE", "left"), ("REPLICAS", "right"), ("HEALTH", "left"), ("RESTARTS", "right"),
                            ("CPU %", "right"), ("MEM", "right"), ("PIDS", "right"), ("PORTS", "left"),
                            ("ROLLOUT", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for s in snapshot.services:
        table.add_row(escape(s.name), replicas_text(s), health_text(s.health), str(s.restarts),
                      "-" if s.cpu_percent is None else f"{s.cpu_percent:.1f}", size(s.memory_bytes),
                      str(s.pids), escape(", ".join(s.ports)) or "-", rollout_text(s.rollout))
    return table


def containers_table(snapshot: Snapshot) -> Table:
    table = Table(expand=True, box=None, pad_edge=False, header_style="bold dim")
    for column in ("CONTAINER", "STATUS", "HEALTH", "RESTARTS", "CPU %", "MEM / LIMIT", "PIDS"):
        table.add_column(column)
    for c in snapshot.containers:
        limit = "unlimited" if c.memory_limit is None and c.memory_bytes is not None else size(c.memory_limit)
        table.add_row(escape(c.name), c.status, Text(c.health or "-", style=_HEALTH_STYLE.get(c.health or "", "dim")),
                      str(c.restarts), "-" if c.cpu_percent is None else f"{c.cpu_percent:.1f}",
                      f"{size(c.memory_bytes)} / {limit}", "-" if c.pids is None else str(c.pids))
    return table


def render_frame(snapshot: Snapshot) -> RenderableType:
    """The whole screen: services with their rollouts, then every container."""
    stamp = time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at))
    title = f"pyorch · project {escape(snapshot.project)} · {stamp}"
    messages = [f"{escape(s.name)}: {escape(s.rollout.message)}" for s in snapshot.services
                if s.rollout is not None and s.rollout.message and s.rollout.status not in ("completed",)]
    parts: list[RenderableType] = [services_table(snapshot)]
    if messages:
        parts.append(Text("\n".join(messages), style="yellow"))
    parts.append(Text(""))
    parts.append(containers_table(snapshot))
    return Panel(Group(*parts), title=title, title_align="left", subtitle="Ctrl-C to quit", subtitle_align="right")
