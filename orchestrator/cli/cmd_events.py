"""`pyorch events`: the project's events as `docker compose events` prints them.

As in Compose, the stream starts now (`--since` replays from a time, `--until` ends it) and each
event is a line `TIME TYPE ACTION ID (attributes)`, or with `--json` an object with `time`, `type`,
`action`, `id`, `service` and `attributes`. pyorch's engine also reports what happens to services
(rolling updates) and to the project (revisions, down): those come with type `service` and
`project`. `--no-follow` (pyorch's own) prints what is stored and returns.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import time
from collections.abc import Callable
from typing import Any

from orchestrator.cli import logtime
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import out

ProjectName = Callable[[argparse.Namespace], str]

# pyorch's event kinds about a container, by Docker's action name for them
CONTAINER_ACTIONS = {"container-start": "start", "container-die": "die", "container-restart": "restart",
                     "container-stop": "stop", "container-kill": "kill", "container-pause": "pause",
                     "container-unpause": "unpause", "container-remove": "destroy",
                     "container-unhealthy-restart": "unhealthy-restart", "health_status": "health_status",
                     "container-log-dropped": "log-dropped"}
PROJECT_KINDS = {"revision", "down"}
DETAIL_NAMES = {"exit_code": "exitCode", "oom_killed": "oomKilled"}  # Docker's attribute names


def register(sub: Any, project_name: ProjectName) -> None:
    events = sub.add_parser("events", help="Receive real time events from containers")
    events.add_argument("--json", action="store_true", help="Output events as a stream of JSON objects")
    events.add_argument("--since", help="Show all events created since a time (RFC 3339, Unix seconds, "
                                        "or a duration ago such as 10m)")
    events.add_argument("--until", help="Stream events until a time (same forms)")
    events.add_argument("--no-follow", action="store_true", help="Print the stored events and exit")
    events.add_argument("services", nargs="*")
    events.set_defaults(run=lambda a, c: _events(a, c, project_name))


class ServiceOf:
    """Which service a container belongs to: from `ps`, from events that say, else from its name."""

    def __init__(self, project: str, rows: list[dict[str, Any]]) -> None:
        self.project = project
        self.known = {str(r["name"]): str(r["service"]) for r in rows}
        self.services = set(self.known.values())

    def learn(self, name: str, service: str) -> None:
        self.known[name] = service
        self.services.add(service)

    def __call__(self, name: str) -> str:
        if name in self.known:
            return self.known[name]
        match = re.fullmatch(re.escape(self.project) + r"-(.+?)-(?:\d+|run-[0-9a-f]+)", name)
        return match.group(1) if match else ""


def compose_event(event: dict[str, Any], service_of: ServiceOf) -> dict[str, Any]:
    """A stored event in Compose's shape: time, type, action, id, service, attributes (pure)."""
    kind, subject = str(event["kind"]), str(event["subject"])
    detail = dict(event.get("detail") or {})
    when = dt.datetime.fromtimestamp(float(event["ts"])).astimezone().isoformat()
    attributes = {DETAIL_NAMES.get(k, k): str(v) for k, v in detail.items() if k not in ("id", "service")}
    if kind in CONTAINER_ACTIONS or (kind == "error" and subject in service_of.known):
        if detail.get("service"):
            service_of.learn(subject, str(detail["service"]))
        action = CONTAINER_ACTIONS.get(kind, kind)
        if kind == "health_status":
            action = f"health_status: {attributes.pop('status', '')}"
        return {"time": when, "type": "container", "action": action, "id": str(detail.get("id", "")),
                "service": service_of(subject), "attributes": {"name": subject, **attributes}}
    if kind in PROJECT_KINDS or kind == "error":
        return {"time": when, "type": "project", "action": kind, "id": subject, "service": "",
                "attributes": attributes}
    return {"time": when, "type": "service", "action": kind, "id": subject, "service": subject,
            "attributes": attributes}


def text_line(event: dict[str, Any]) -> str:
    """Compose's line: `2006-01-02 15:04:05.000000 container start ID (name=…, …)`."""
    when = dt.datetime.fromisoformat(event["time"]).strftime("%Y-%m-%d %H:%M:%S.%f")
    attributes = ", ".join(f"{k}={v}" for k, v in event["attributes"].items())
    return f"{when} {event['type']} {event['action']} {event['id']} ({attributes})"


def events_query(project: str, since: float | None, until: float | None, no_follow: bool, now: float) -> str:
    """The API query: from now unless --since (or --no-follow: from the start); --until ends it."""
    query = f"/v1/events?project={project}"
    if since is not None:
        query += f"&since={since!r}"
    elif not no_follow:
        query += f"&since={now!r}"
    if until is not None:
        query += f"&until={until!r}"
    follow = not no_follow and (until is None or until > now)
    return query + f"&follow={'1' if follow else '0'}"


def _events(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    now = time.time()
    since = logtime.parse_instant(args.since, now) if args.since else None
    until = logtime.parse_instant(args.until, now) if args.until else None
    name = project_name(args)
    service_of = ServiceOf(name, client.request("GET", f"/v1/projects/{name}/ps?all=1"))
    wanted = set(args.services)
    try:
        for stored in client.stream(events_query(name, since, until, args.no_follow, now)):
            event = compose_event(stored, service_of)
            if wanted and event["service"] not in wanted:
                continue
            if args.json:
                out.print(json.dumps(event), markup=False, soft_wrap=True)
            else:
                out.print(text_line(event), markup=False, soft_wrap=True)
    except KeyboardInterrupt:
        pass
    return 0
