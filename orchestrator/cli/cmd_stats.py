"""`pyorch stats`: CPU, memory and pids of the project's containers, as `docker compose stats` shows them.

A stream by default: on a terminal one table redrawn in place, on a pipe one table (or one JSON
line a container) per sample, until interrupted; `--no-stream` prints one sample. Containers that
start or stop while it runs come and go. CPU % is a rate, so every sample needs the one before.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from orchestrator.cli import gotemplate
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import out, real_console

ProjectName = Callable[[argparse.Namespace], str]
FIRST_SAMPLE_S = 0.5   # the gap between the first two samples (the first CPU % needs both)
INTERVAL_S = 1.0       # between later samples
FIELDS = ("ID", "Container", "Name", "Service", "CPUPerc", "MemUsage", "MemPerc", "PIDs")
HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "Service": "SERVICE",
           "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "PIDs": "PIDS"}
DEFAULT_TABLE = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.PIDs}}"


def register(sub: Any, project_name: ProjectName) -> None:
    stats = sub.add_parser("stats", help="Display a live stream of the containers' resource usage")
    stats.add_argument("-a", "--all", action="store_true", help="Show all containers (default: running ones)")
    stats.add_argument("--no-stream", action="store_true", help="Print one sample and exit")
    stats.add_argument("--no-trunc", action="store_true", help="Do not truncate container ids")
    stats.add_argument("--format", default="table",
                       help="table, json, `table TEMPLATE` or TEMPLATE with {{.Field}}: "
                            + ", ".join(FIELDS))
    stats.add_argument("services", nargs="*")
    stats.set_defaults(run=lambda a, c: _stats(a, c, project_name))


def docker_size(value: float) -> str:
    """Bytes as Docker prints them (four significant digits, binary units): 0B, 4KiB, 1.539MiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.4g}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def host_memory() -> int:
    """What Docker shows as the limit of a container without one: the host's memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def stats_rows(before: list[dict[str, Any]], after: list[dict[str, Any]], stopped: list[dict[str, Any]],
               no_trunc: bool, memory_total: int) -> list[dict[str, Any]]:
    """One row a container: Docker's fields as strings, then the raw counters (pure).

    ``stopped`` are `ps` rows of containers that have no sample (stopped: shown with zeros, `-a`).
    """
    from orchestrator.dashboard.snapshot import cpu_percentages  # here: not every command's start

    cpu = cpu_percentages(before, after)
    rows = []
    for r in after:
        limit = r["memory_limit"] or memory_total
        used = int(r["memory_bytes"] or 0)
        percent = cpu.get(r["id"])
        rows.append({
            "ID": r["id"] if no_trunc else r["id"][:12], "Container": r["name"], "Name": r["name"],
            "Service": r["service"], "CPUPerc": "--" if percent is None else f"{percent:.2f}%",
            "MemUsage": f"{docker_size(used)} / {docker_size(limit)}",
            "MemPerc": f"{used / limit * 100:.2f}%" if limit else "0.00%", "PIDs": str(r["pids"]),
            "id": r["id"], "name": r["name"], "service": r["service"], "cpu_percent": percent,
            "memory_bytes": used, "memory_limit": r["memory_limit"], "pids": r["pids"],
        })
    sampled = {r["id"] for r in after}
    for r in stopped:
        if r["id"] in sampled:
            continue
        rows.append({
            "ID": r["id"] if no_trunc else r["id"][:12], "Container": r["name"], "Name": r["name"],
            "Service": r["service"], "CPUPerc": "0.00%", "MemUsage": "0B / 0B", "MemPerc": "0.00%", "PIDs": "0",
            "id": r["id"], "name": r["name"], "service": r["service"], "cpu_percent": 0.0,
            "memory_bytes": 0, "memory_limit": None, "pids": 0,
        })
    return sorted(rows, key=lambda row: str(row["name"]))


def format_rows(fmt: str, rows: list[dict[str, Any]]) -> list[str]:
    """The lines one sample prints in ``fmt`` (table, json, a template)."""
    if fmt == "json":
        return [json.dumps(r) for r in rows]
    template = gotemplate.parse(DEFAULT_TABLE if fmt == "table" else fmt, FIELDS)
    return gotemplate.render(template, [{k: str(r[k]) for k in FIELDS} for r in rows], HEADERS)


class _Samples:
    """The project's containers, sampled again and again; each sample keeps the one before for CPU %."""

    def __init__(self, client: EngineClient, project: str, args: argparse.Namespace) -> None:
        self.client, self.project, self.args = client, project, args
        self.memory_total = host_memory()

    def _wanted(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if not self.args.services or r["service"] in self.args.services]

    def _read(self) -> list[dict[str, Any]]:
        return self._wanted(self.client.request("GET", f"/v1/projects/{self.project}/stats"))

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        before = self._read()
        self.client.follow()  # the engine that answered: none is started if it goes
        time.sleep(FIRST_SAMPLE_S)
        while True:
            after = self._read()
            stopped = self._wanted(self.client.request("GET", f"/v1/projects/{self.project}/ps?all=1")) \
                if self.args.all else []
            yield stats_rows(before, after, stopped, self.args.no_trunc, self.memory_total)
            before = after
            time.sleep(INTERVAL_S)


def _stats(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    if args.format not in ("table", "json"):
        gotemplate.parse(args.format, FIELDS)   # a bad template fails before anything is sampled
    samples = iter(_Samples(client, project_name(args), args))
    live = None
    try:
        for rows in samples:
            lines = format_rows(args.format, rows)
            if args.no_stream or (not rows and not args.all):  # nothing to watch: print once, as Docker
                _write(lines)
                return 0
            if sys.stdout.isatty():
                live = live or _start_live()
                from rich.text import Text

                live.update(Text("\n".join(lines)), refresh=True)
            else:
                _write(lines)
    except KeyboardInterrupt:
        return 0
    finally:
        if live is not None:
            live.stop()
    return 0


def _start_live() -> Any:
    from rich.live import Live  # only for a stream on a terminal

    live = Live(console=real_console(out), auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
    live.start()
    return live


def _write(lines: list[str]) -> None:
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()
