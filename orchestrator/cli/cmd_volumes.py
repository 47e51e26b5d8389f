"""`pyorch volume ls/inspect/rm/prune` (as `docker volume`) and `pyorch volumes` (as `docker compose volumes`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from orchestrator.cli import render
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import err, out
from orchestrator.errors import EngineError

ProjectName = Callable[[argparse.Namespace], str]
PROJECT_LABEL = "com.docker.compose.project"


def register(sub: Any, project_name: ProjectName) -> None:
    volume = sub.add_parser("volume", help="Manage volumes")
    verbs = volume.add_subparsers(dest="volume_command", required=True)
    ls = verbs.add_parser("ls", aliases=["list"], help="List volumes")
    ls.add_argument("-q", "--quiet", action="store_true", help="Only volume names")
    ls.add_argument("--format", choices=["table", "json"], default="table")
    ls.add_argument("-f", "--filter", action="append", default=[],
                    help="dangling=true|false, name=SUBSTRING, driver=NAME, label=KEY[=VALUE] (repeatable)")
    ls.set_defaults(run=_ls)
    inspect = verbs.add_parser("inspect", help="Details of volumes, as JSON")
    inspect.add_argument("names", nargs="+")
    inspect.set_defaults(run=_inspect)
    rm = verbs.add_parser("rm", aliases=["remove"], help="Remove volumes no container uses")
    rm.add_argument("names", nargs="+")
    rm.add_argument("-f", "--force", action="store_true", help="No error for volumes that do not exist")
    rm.set_defaults(run=_rm)
    prune = verbs.add_parser("prune", help="Remove unused anonymous volumes (every unused one with -a)")
    prune.add_argument("-a", "--all", action="store_true", help="Named volumes too")
    prune.add_argument("-f", "--force", action="store_true", help="Accepted for compatibility (no prompt)")
    prune.add_argument("--filter", action="append", default=[], help="label=KEY[=VALUE], name=…")
    prune.set_defaults(run=_prune)

    volumes = sub.add_parser("volumes", help="List the project's volumes")
    volumes.add_argument("services", nargs="*", help="only volumes these services' containers mount")
    volumes.add_argument("-q", "--quiet", action="store_true", help="Only volume names")
    volumes.add_argument("--format", choices=["table", "json"], default="table")
    volumes.set_defaults(run=lambda args, client: _project_volumes(args, client, project_name))


def _query(filters: list[str]) -> str:
    return "&".join(f"filter={quote(f)}" for f in filters)


def _print(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    if args.quiet:
        for row in rows:
            out.print(row["Name"], markup=False)
    elif args.format == "json":
        out.print(json.dumps(rows), soft_wrap=True, markup=False)
    else:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        table.add_column("DRIVER")
        table.add_column("VOLUME NAME")
        for row in rows:
            table.add_row(render.escape(row["Driver"]), render.escape(row["Name"]))
        out.print(table)


def _ls(args: argparse.Namespace, client: EngineClient) -> int:
    _print(client.request("GET", f"/v1/volumes?{_query(args.filter)}"), args)
    return 0


def _inspect(args: argparse.Namespace, client: EngineClient) -> int:
    found, code = [], 0
    for name in args.names:
        try:
            row = client.request("GET", f"/v1/volumes/{name}")
        except EngineError as exc:  # each name on its own, as docker volume inspect
            err.print(f"[red]error:[/] {render.escape(str(exc))}")
            code = 1
            continue
        row.pop("Containers", None)
        found.append(row)
    out.print(json.dumps(found, indent=4), soft_wrap=True, markup=False)
    return code


def _rm(args: argparse.Namespace, client: EngineClient) -> int:
    result = client.request("POST", "/v1/volumes/remove", {"names": args.names, "force": args.force})
    for name in result["removed"]:
        out.print(name, markup=False)
    for message in result["errors"]:
        err.print(f"[red]error:[/] {render.escape(message)}")
    return 1 if result["errors"] else 0


def _prune(args: argparse.Namespace, client: EngineClient) -> int:
    result = client.request("POST", "/v1/volumes/prune", {"all": args.all, "filters": args.filter})
    if result["removed"]:
        out.print("Deleted Volumes:")
        for name in result["removed"]:
            out.print(name, markup=False)
        out.print("")
    out.print(f"Total reclaimed space: {_size(int(result['reclaimed']))}")
    return 0


def _project_volumes(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    rows = client.request("GET", f"/v1/volumes?{_query([f'label={PROJECT_LABEL}={name}'])}")
    if args.services:
        wanted = set(args.services)
        rows = [r for r in rows if wanted & {c["service"] for c in r.get("Containers", [])}]
    _print(rows, args)
    return 0


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.4g}{unit}" if unit != "B" else f"{size}B"
        value /= 1000
    return f"{size}B"
