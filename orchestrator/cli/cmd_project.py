"""`stats`, `ls` and `events`: looking at running projects."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.cli import render
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import out

if TYPE_CHECKING:
    from rich.table import Table

ProjectName = Callable[[argparse.Namespace], str]
SAMPLE_S = 0.5


def register(sub: Any, project_name: ProjectName) -> None:
    stats = sub.add_parser("stats", help="Live CPU, memory and pids of the project's containers")
    stats.add_argument("--no-stream", action="store_true", help="Print one sample and exit")
    stats.add_argument("--format", choices=["table", "json"], default="table")
    stats.add_argument("services", nargs="*")
    stats.set_defaults(run=lambda a, c: _stats(a, c, project_name))
    ls = sub.add_parser("ls", help="List projects the engine runs")
    ls.add_argument("--format", choices=["table", "json"], default="table")
    ls.add_argument("-q", "--quiet", action="store_true", help="Only project names")
    ls.set_defaults(run=_ls)
    events = sub.add_parser("events", help="Stream the project's events (container start, exit, health, ...)")
    events.add_argument("--json", action="store_true", help="One JSON object per line")
    events.add_argument("--since", type=int, default=0, help="Replay events after this event id")
    events.add_argument("--no-follow", action="store_true", help="Print what happened so far and exit")
    events.set_defaults(run=lambda a, c: _events(a, c, project_name))


def cpu_percentages(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, float]:
    """CPU use between two samples, in percent of one CPU (docker stats shows the same unit)."""
    earlier = {r["id"]: r for r in before}
    result: dict[str, float] = {}
    for row in after:
        old = earlier.get(row["id"])
        elapsed = row["read_at"] - old["read_at"] if old else 0.0
        if old is None or elapsed <= 0:
            continue
        result[row["id"]] = max(0.0, (row["cpu_usage_ns"] - old["cpu_usage_ns"]) / 1e9 / elapsed * 100)
    return result


def _size(value: int | None) -> str:
    if value is None:
        return "unlimited"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f}{unit}" if unit != "B" else f"{value}B"
        value = value / 1024  # type: ignore[assignment]
    return str(value)


def stats_table(rows: list[dict[str, Any]], cpu: dict[str, float]) -> Table:
    from rich.table import Table  # lazily: imported by every CLI start otherwise

    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "CPU %", "MEM USAGE / LIMIT", "PIDS"):
        table.add_column(column)
    for r in rows:
        shown = f"{cpu[r['id']]:.2f}%" if r["id"] in cpu else "--"
        table.add_row(render.escape(r["name"]), shown, f"{_size(r['memory_bytes'])} / {_size(r['memory_limit'])}",
                      str(r["pids"]))
    return table


def _stats(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)

    def sample() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = client.request("GET", f"/v1/projects/{name}/stats")
        return [r for r in rows if not args.services or r["service"] in args.services]

    before = sample()
    time.sleep(SAMPLE_S)
    after = sample()
    if args.no_stream:
        cpu = cpu_percentages(before, after)
        if args.format == "json":
            for r in after:
                out.print(json.dumps({**r, "cpu_percent": cpu.get(r["id"])}), soft_wrap=True)
        else:
            out.print(stats_table(after, cpu))
        return 0
    from rich.live import Live

    with Live(stats_table(after, cpu_percentages(before, after)), console=out, auto_refresh=False) as live:
        while True:
            time.sleep(1.0)
            before, after = after, sample()
            live.update(stats_table(after, cpu_percentages(before, after)), refresh=True)


def _ls(args: argparse.Namespace, client: EngineClient) -> int:
    rows: list[dict[str, Any]] = client.request("GET", "/v1/projects")
    if args.quiet:
        for r in rows:
            out.print(r["name"])
    elif args.format == "json":
        out.print(json.dumps(rows), soft_wrap=True)
    else:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("NAME", "REVISION", "CONTAINERS"):
            table.add_column(column)
        for r in rows:
            table.add_row(render.escape(r["name"]), str(r["revision"]), str(r["containers"]))
        out.print(table)
    return 0


def _events(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    follow = "0" if args.no_follow else "1"
    for event in client.stream(f"/v1/events?project={name}&after={args.since}&follow={follow}"):
        if args.json:
            out.print(json.dumps(event), soft_wrap=True)
        else:
            when = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(float(event.get("ts", 0))))
            detail = " ".join(f"{k}={v}" for k, v in (event.get("detail") or {}).items() if k != "id")
            out.print(f"{when} {event.get('kind')} {render.escape(str(event.get('subject')))} {render.escape(detail)}")
    return 0
