"""Attached `up` (no `-d`): stream every container's output until the project is done, like Compose.

Ends when every container has exited and none will be restarted by its policy, when a container
exits with `--abort-on-container-exit` (then the others are stopped), or on Ctrl-C, which stops
the project's containers (a second Ctrl-C kills them) and leaves them in place, as Compose does.

It follows the engine `up` talked to and never starts one (`EngineClient.follow`): when that
engine goes away (killed, crashed, its instance torn down) the session ends with an error, as
Compose's does when its daemon goes; it used to start a new engine at its next poll, for an
instance perhaps nobody used any more. A command of one's own (`ps`, `down`, a new `up`) starts
one as usual.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.cli import render
from orchestrator.cli.client import EngineClient
from orchestrator.cli.logtime import record_time
from orchestrator.errors import EngineUnavailable

if TYPE_CHECKING:
    from rich.console import Console

    from orchestrator.spec import Project

POLL_S = 0.3
DRAIN_S = 0.3  # the log stream reads files every 0.1 s: let it print the last lines


def finished(rows: list[dict[str, Any]]) -> bool:
    """Every container exited, and none is waiting for a restart (the engine's rule, which each
    `ps` row carries as ``restarts_on_exit``)."""
    return bool(rows) and all(r["status"] == "exited" and not r.get("restarts_on_exit") for r in rows)


@dataclass(frozen=True)
class Shown:
    """Whose output attached `up` prints, and how (`--attach`, `--no-attach`, `--timestamps`, …)."""
    attach: list[str] = field(default_factory=list)  # only these services (all when empty)
    no_attach: set[str] = field(default_factory=set)
    timestamps: bool = False
    prefix: bool = True
    color: bool = True
    # what the containers printed before this `up` (a one-shot's earlier runs) is not shown: Compose
    # attaches to them as they start (epoch seconds; None: everything)
    since: float | None = None

    def includes(self, service: str) -> bool:
        return (not self.attach or service in self.attach) and service not in self.no_attach


def follow_up(client: EngineClient, project: Project, out: Console, err: Console, abort_on_exit: bool,
              exit_code_from: str | None, shown: Shown | None = None) -> int:
    client.follow()
    try:
        return _follow(client, project, err, abort_on_exit, exit_code_from, shown or Shown())
    except EngineUnavailable as exc:
        raise EngineUnavailable(
            f"the pyorch engine this attached `up` followed is gone ({exc}); no new one is started for "
            f"it. What it ran may still run: `pyorch ps` shows it (and starts an engine)") from None


def _ps(client: EngineClient, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = client.request("GET", f"/v1/projects/{name}/ps?all=1")
    return rows


def _follow(client: EngineClient, project: Project, err: Console, abort_on_exit: bool,
            exit_code_from: str | None, shown: Shown) -> int:
    name = project.name
    rows = _ps(client, name)
    err.print("Attaching to " + ", ".join(render.escape(r["name"]) for r in rows if shown.includes(r["service"])))
    query = "".join(f"&service={service}" for service in shown.attach)

    def pump() -> None:
        try:
            for record in client.stream(f"/v1/projects/{name}/logs?follow=1&tail=-1{query}"):
                if shown.since is not None and record.get("time") and record_time(record["time"]) < shown.since:
                    continue
                if shown.includes(record["service"]):
                    render.log_line(record, timestamps=shown.timestamps, prefix=shown.prefix, color=shown.color)
        except Exception:  # the engine went away: the main loop notices and reports
            return

    threading.Thread(target=pump, name="pyorch-attach", daemon=True).start()
    exited: dict[str, int] = {}
    try:
        while True:
            time.sleep(POLL_S)
            rows = _ps(client, name)
            for r in rows:
                if r["status"] == "exited" and r["name"] not in exited:
                    exited[r["name"]] = int(r["exit_code"] if r["exit_code"] is not None else -1)
                    err.print(f"{render.escape(r['name'])} exited with code {exited[r['name']]}")
                elif r["status"] == "running":
                    exited.pop(r["name"], None)  # restarted: a later exit is reported again
            stopper = [r for r in rows if r["status"] == "exited"
                       and (exit_code_from is None or r["service"] == exit_code_from)]
            if (abort_on_exit or exit_code_from) and stopper:
                time.sleep(DRAIN_S)
                err.print("Aborting on container exit...")
                _stop(client, name, err)
                return int(stopper[0]["exit_code"] if stopper[0]["exit_code"] is not None else -1)
            if finished(rows):
                time.sleep(DRAIN_S)
                return 0
    except KeyboardInterrupt:
        err.print("Gracefully stopping... (press Ctrl+C again to force)")
        try:
            _stop(client, name, err)
        except KeyboardInterrupt:
            client.request("POST", f"/v1/projects/{name}/kill", {"services": [], "signal": 9})
        return 130


def _stop(client: EngineClient, name: str, err: Console) -> None:
    result = client.request("POST", f"/v1/projects/{name}/stop", {"services": []})
    for c in result["stopped"]:
        err.print(f" [green]✔[/] Container {render.escape(c)}  Stopped")
