"""`kill` and `version`: container lifecycle verbs beyond up/stop/start (pause: cmd_pause.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from orchestrator.cli import render, replicas
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import err, out

ProjectName = Callable[[argparse.Namespace], str]


def register(sub: Any, project_name: ProjectName) -> None:
    kill = sub.add_parser("kill", help="Force stop service containers (a signal, SIGKILL by default)")
    kill.add_argument("-s", "--signal", default="SIGKILL", help="Signal to send (name or number)")
    kill.add_argument("--index", type=int, help="Index of the container if the service has several replicas")
    kill.add_argument("services", nargs="*")
    kill.set_defaults(run=lambda a, c: _kill(a, c, project_name))
    ver = sub.add_parser("version", help="Show the pyorch version")
    ver.add_argument("--short", action="store_true")
    ver.set_defaults(run=_version)


def _kill(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    # The engine reads the signal's name or number (and refuses an unknown one before any kill).
    result = client.request("POST", f"/v1/projects/{name}/kill", {"services": args.services, "signal": args.signal,
                                                                 "containers": replicas.indexed(args, client, name)})
    for c in result["killed"]:
        err.print(f" [green]✔[/] Container {render.escape(c)}  Killed")
    return 0


def _version(args: argparse.Namespace, client: EngineClient) -> int:
    from importlib.metadata import PackageNotFoundError, version  # ~15 ms: only for this verb

    try:
        number = version("pyorch")
    except PackageNotFoundError:
        number = "unknown"
    out.print(number if args.short else f"pyorch version {number}")
    return 0
