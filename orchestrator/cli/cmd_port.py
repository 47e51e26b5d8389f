"""`pyorch port SERVICE PRIVATE_PORT`: the host address a service's container port is published on."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from orchestrator.cli.client import EngineClient

ProjectName = Callable[[argparse.Namespace], str]


def register(sub: Any, project_name: ProjectName) -> None:
    p = sub.add_parser("port", help="Print the public address of a service's port")
    p.add_argument("service")
    p.add_argument("private_port", type=int)
    p.add_argument("--protocol", choices=("tcp", "udp"), default="tcp")
    p.add_argument("--index", type=int, default=1, help="replica number, if the service has several")
    p.set_defaults(run=lambda a, c: _port(a, c, project_name))


def _port(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    query = urlencode({"service": args.service, "port": args.private_port, "protocol": args.protocol,
                       "index": args.index})
    result = client.request("GET", f"/v1/projects/{project_name(args)}/port?{query}")
    print(result["address"])
    return 0
