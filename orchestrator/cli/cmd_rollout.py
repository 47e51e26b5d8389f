"""`rollout status`, `rollback SERVICE`, and waiting for rollouts after `up --wait`."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.cli import render
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import err, out
from orchestrator.errors import PyorchError

if TYPE_CHECKING:
    from rich.table import Table

ProjectName = Callable[[argparse.Namespace], str]
POLL_S = 0.3


class RolloutFailed(PyorchError):
    """A rollout ended paused or rolled back."""


def register(sub: Any, project_name: ProjectName) -> None:
    rollout = sub.add_parser("rollout", help="Show rolling updates (deploy.update_config)")
    rollout_sub = rollout.add_subparsers(dest="rollout_command", required=True)
    status = rollout_sub.add_parser("status", help="The latest rollout of each service")
    status.add_argument("--format", choices=["table", "json"], default="table")
    status.add_argument("--wait", action="store_true", help="Wait until no rollout is in progress")
    status.add_argument("--wait-timeout", type=float, default=None)
    status.add_argument("services", nargs="*")
    status.set_defaults(run=lambda a, c: _status(a, c, project_name))
    rollback = sub.add_parser("rollback", help="Roll a service back to its previous configuration")
    rollback.add_argument("--detach", "-d", action="store_true", help="Do not wait for the rollback to finish")
    rollback.add_argument("--wait-timeout", type=float, default=None)
    rollback.add_argument("service")
    rollback.set_defaults(run=lambda a, c: _rollback(a, c, project_name))


def _status(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    if args.wait:
        wait_rollouts(client, name, 0, args.wait_timeout, quiet=args.format == "json")
    rows = [r for r in client.request("GET", f"/v1/projects/{name}/rollouts")
            if not args.services or r["service"] in args.services]
    if args.format == "json":
        out.print_json(json.dumps(rows))
    else:
        out.print(status_table(rows))
    return 0


def _rollback(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    record = client.request("POST", f"/v1/projects/{name}/rollback", {"service": args.service})
    err.print(f" [green]✔[/] Service {render.escape(args.service)}  rollback to the previous configuration "
              f"started (revision {record['revision']})")
    if args.detach:
        return 0
    wait_rollouts(client, name, int(record["revision"]), args.wait_timeout)
    return 0


def status_table(rows: list[dict[str, Any]]) -> Table:
    from rich.table import Table  # lazily: imported by every CLI start otherwise

    table = Table(box=None, pad_edge=False)
    for column in ("SERVICE", "KIND", "STATUS", "PROGRESS", "FAILED", "REVISION", "MESSAGE"):
        table.add_column(column)
    for r in rows:
        table.add_row(render.escape(r["service"]), r["kind"], r["status"], f"{r['updated']}/{r['total']}",
                      str(r["failed"]), str(r["revision"]), render.escape(r.get("message") or ""))
    return table


def wait_rollouts(client: EngineClient, name: str, since_revision: int, timeout: float | None,
                  quiet: bool = False) -> None:
    """Wait until the project's rollouts (from ``since_revision`` on) are done; raise if one failed.

    An update that rolled back, or a rollout that paused, is a failure for `up --wait`.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    shown: dict[str, tuple[str, int]] = {}
    # No `follow()` here, unlike attached `up`: a rollout is resumed by the next engine after a crash
    # (docs/engine.md, "Crash consistency"), so a poll that finds the engine gone starts one and goes on.
    while True:
        rows = [r for r in client.request("GET", f"/v1/projects/{name}/rollouts")
                if int(r["revision"]) >= since_revision]
        for r in rows:
            key = (r["status"], int(r["updated"]))
            if not quiet and shown.get(r["service"]) != key:
                shown[r["service"]] = key
                err.print(f" [cyan]⟳[/] Service {render.escape(r['service'])}  {r['kind']} {r['status']} "
                          f"{r['updated']}/{r['total']}")
        if not any(r["active"] for r in rows):  # the engine says which states are active and which done
            failed = [r for r in rows if not r["completed"]
                      or (r["kind"] == "rollback" and since_revision and int(r["revision"]) > since_revision)]
            if failed:
                raise RolloutFailed("; ".join(f"service {r['service']}: {r['kind']} {r['status']}"
                                              + (f" ({r['message']})" if r.get("message") else "") for r in failed))
            return
        if deadline is not None and time.monotonic() > deadline:
            raise RolloutFailed(f"rollouts of {name} still in progress after {timeout:g}s")
        time.sleep(POLL_S)
