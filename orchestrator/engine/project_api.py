"""The engine's project routes: up, down, the lifecycle verbs, ps/stats/top, logs and the
streamed `exec` (without a terminal); and what the engine says of its host (`info`)."""

from __future__ import annotations

import base64
import json
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.engine import log_archive
from orchestrator.engine.compose_source import project_from_source
from orchestrator.engine.logs import LogSource, stream_logs
from orchestrator.engine.observation import Observation
from orchestrator.engine.peer import peer_closed
from orchestrator.engine.project_ops import ProjectOps, UpOptions
from orchestrator.engine.queries import Queries
from orchestrator.engine.route_handler import Streamer
from runtime.container.runtime import ContainerRuntime
from runtime.linux.signals import signal_number


class Handler(Streamer, Protocol):
    """What this module needs of the API's request handler: `exec` also watches the connection."""

    connection: socket.socket


@dataclass(frozen=True)
class ProjectRoutes:
    ops: ProjectOps
    queries: Queries
    observe: Callable[[], Observation]   # the containers as last seen, for `logs`
    runtime: ContainerRuntime           # log files (live and kept) and the host's features

    def handle(self, handler: Handler, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
        """Serve the request if it is one of ours; False lets the caller answer 404."""
        ops, queries = self.ops, self.queries
        match method, parts:
            case "GET", ["v1", "info"]:
                handler.reply(200, self.runtime.features.refreshed().to_dict())
            case "GET", ["v1", "projects"]:
                handler.reply(200, queries.list_projects())
            case "POST", ["v1", "projects", "up"]:
                body = handler.body()
                options = UpOptions(**body.get("options", {}))
                spec = project_from_source(body["source"]) if "source" in body else body["project"]
                handler.reply(200, ops.up(spec, options))
            case "POST", ["v1", "projects", name, "down"]:
                body = handler.body()
                handler.reply(200, ops.down(name, body.get("timeout"), bool(body.get("volumes"))))
            case "POST", ["v1", "projects", name, "stop"]:
                body = handler.body()
                handler.reply(200, ops.stop_services(name, body.get("services", []), body.get("timeout"),
                                                     body.get("containers", [])))
            case "POST", ["v1", "projects", name, "start"]:
                body = handler.body()
                handler.reply(200, ops.start_services(name, body.get("services", []),
                                                      body.get("containers", [])))
            case "POST", ["v1", "projects", name, ("pause" | "unpause") as verb]:
                body = handler.body()
                handler.reply(200, ops.pause_services(name, body.get("services", []), verb == "pause"))
            case "POST", ["v1", "projects", name, "kill"]:
                body = handler.body()
                handler.reply(200, ops.kill_services(name, body.get("services", []),
                                                     signal_number(str(body.get("signal", signal.SIGKILL))),
                                                     body.get("containers", [])))
            case "GET", ["v1", "projects", name, "stats"]:
                handler.reply(200, queries.stats(name))
            case "GET", ["v1", "projects", name, "ps"]:
                services = query.get("service", [])  # only these (`ps SERVICE…`, `rm SERVICE…`); all when none
                ops.check_services(name, services)
                rows = queries.ps(name, all_containers=query.get("all", ["1"])[0] == "1")
                handler.reply(200, [r for r in rows if r["service"] in services] if services else rows)
            case "GET", ["v1", "projects", name, "logs"]:
                self.logs(handler, name, query)
            case "POST", ["v1", "projects", name, "exec"]:
                self.exec(handler, name, handler.body())
            case "GET", ["v1", "projects", name, "top"]:
                ops.check_services(name, query.get("service", []))
                handler.reply(200, queries.top(name, query.get("service", [])))
            case _:
                return False
        return True

    def logs(self, handler: Handler, project: str, query: dict[str, list[str]]) -> None:
        named = query.get("service", [])
        services = set(named)
        follow = query.get("follow", ["0"])[0] == "1"
        tail = int(query.get("tail", ["-1"])[0])
        index = int(query["index"][0]) if query.get("index") else None
        runtime = self.runtime
        self.ops.check_services(project, named)  # before the stream starts: a plain error

        def sources() -> list[LogSource]:
            live = [LogSource(c.name, c.service, runtime.log_path(c.id), key=c.id)
                    for c in self.observe().selected(project, services)
                    if index is None or c.number == index]
            known = {src.key for src in live}
            kept = log_archive.sources(runtime, project, services, index)
            return [src for src in kept if src.key not in known] + live

        handler.stream_start()
        connection = handler.connection
        pending = bytearray()  # one send per 64 KiB, and whenever the stream waits for more

        def flush() -> None:
            if pending:
                handler.wfile.write(bytes(pending))
                handler.wfile.flush()
                pending.clear()

        for record in stream_logs(sources, follow, tail, lambda: handler.stopping() or peer_closed(connection),
                                  idle=flush):
            pending += json.dumps(record).encode() + b"\n"
            if len(pending) >= 65536:
                flush()
        flush()

    def exec(self, handler: Handler, project: str, body: dict[str, Any]) -> None:
        session = self.ops.exec(project, body["service"], int(body.get("index", 1)), list(body["args"]),
                                env=list(body.get("env") or []), user=body.get("user"), workdir=body.get("workdir"))
        handler.stream_start()
        for stream, data in session.output():
            line = {"stream": stream, "data": base64.b64encode(data).decode()}
            handler.wfile.write(json.dumps(line).encode() + b"\n")
            handler.wfile.flush()
        handler.wfile.write(json.dumps({"exit_code": session.wait()}).encode() + b"\n")
