"""`pause` and `unpause`: freeze and thaw a project's running containers (cgroup freezer)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from orchestrator.cli import render
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import err

ProjectName = Callable[[argparse.Namespace], str]


def register(sub: Any, project_name: ProjectName) -> None:
    for verb, text in (("pause", "Pause services (freeze their processes)"), ("unpause", "Unpause services")):
        p = sub.add_parser(verb, help=text)
        p.add_argument("services", nargs="*")
        p.set_defaults(run=lambda a, c, v=verb: _pause(a, c, v, project_name))


def _pause(args: argparse.Namespace, client: EngineClient, verb: str, project_name: ProjectName) -> int:
    name = project_name(args)
    result = client.request("POST", f"/v1/projects/{name}/{verb}", {"services": args.services})
    shown = "Paused" if verb == "pause" else "Unpaused"
    return render.verb_result(err, result["containers"], shown, result["errors"])
