"""`ls`: the projects the engine runs (`stats`: cmd_stats.py, `events`: cmd_events.py)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from orchestrator.cli import render
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import out


def register(sub: Any) -> None:
    ls = sub.add_parser("ls", help="List projects the engine runs")
    ls.add_argument("--format", choices=["table", "json"], default="table")
    ls.add_argument("-q", "--quiet", action="store_true", help="Only project names")
    ls.set_defaults(run=_ls)


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
