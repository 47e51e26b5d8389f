"""`pyorch dashboard` (alias `dash`): the project live, and keys to act on it (docs/cli.md lists them)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.cli.client import EngineClient
from orchestrator.errors import PyorchError
from orchestrator.spec import ComposeError

if TYPE_CHECKING:
    from orchestrator.spec import Project

ProjectName = Callable[[argparse.Namespace], str]
LoadProject = Callable[[argparse.Namespace], "Project"]


def register(sub: Any, project_name: ProjectName, load: LoadProject) -> None:
    dash = sub.add_parser("dashboard", aliases=["dash"],
                          help="The project live: logs, restart, stop, start, shell, rollback (? for keys)")
    dash.add_argument("--once", action="store_true", help="Print one frame and exit (no full screen)")
    dash.add_argument("--interval", type=float, default=1.0, help="Seconds between frames (default 1)")
    dash.set_defaults(run=lambda a, c: _dashboard(a, c, project_name, load))


def _dashboard(args: argparse.Namespace, client: EngineClient, project_name: ProjectName,
               load: LoadProject) -> int:
    if args.interval <= 0:
        raise PyorchError(f"--interval must be a positive number of seconds, not {args.interval:g}")
    if not args.once and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise PyorchError("the dashboard is interactive and needs a terminal; --once prints one frame")
    try:  # desired replicas come from the Compose file; with only -p NAME they are unknown
        project = load(args)
        name, desired = project.name, {n: s.replicas for n, s in project.services.items()}
    except ComposeError:
        name, desired = project_name(args), {}
    known = {p["name"] for p in client.request("GET", "/v1/projects")}
    if name not in known:
        raise PyorchError(f"project {name!r} is not up (pyorch ls shows the running projects)")
    from rich.console import Console

    from orchestrator.dashboard.live import Sampler, run  # lazily: only this verb draws frames

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    return run(console, Sampler(client, name, desired), args.interval, args.once)
