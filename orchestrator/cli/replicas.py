"""`--index N` of `stop`, `start`, `restart` and `kill`: which containers that names; and
`--scale SERVICE=N` of `up` and `scale`."""

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


def parse_scale(items: list[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for item in items:
        name, sep, count = item.partition("=")
        if not sep or not name or not count.isdigit():
            raise PyorchError(f"invalid scale specifier {item!r}: expected SERVICE=NUMBER")
        result[name] = int(count)
    return result
