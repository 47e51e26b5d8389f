"""`--index N` of `stop`, `start`, `restart` and `kill`: which containers that names."""

from __future__ import annotations

import argparse

from orchestrator.cli.client import EngineClient
from orchestrator.errors import PyorchError


def indexed(args: argparse.Namespace, client: EngineClient, project: str) -> list[str]:
    """`--index N`: the name of replica N of each named service (or of every service); none: all."""
    if args.index is None:
        return []
    rows = client.request("GET", f"/v1/projects/{project}/ps?all=1")
    names = [r["name"] for r in rows
             if r.get("number") == args.index and (not args.services or r["service"] in args.services)]
    if not names:
        raise PyorchError(f"no container with index {args.index} in {', '.join(args.services) or project}")
    return names
