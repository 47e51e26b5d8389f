"""The engine's routes for `run`, `rm`, `scale`, `restart`, `inspect` and `up --wait`'s readiness
(project verbs beyond up/down)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.engine import oneoff
from orchestrator.engine.compose_build import with_build_images
from orchestrator.engine.labels import Labelled
from orchestrator.engine.project_ops import ProjectOps, UpOptions
from orchestrator.engine.queries import Queries
from orchestrator.engine.route_handler import Streamer as Handler
from orchestrator.errors import EngineError
from orchestrator.spec import Project
from runtime.container.runtime import ContainerRuntime


@dataclass(frozen=True)
class ComposeRoutes:
    ops: ProjectOps
    queries: Queries
    runtime: ContainerRuntime  # a one-off container's record and output (`run` without a terminal)

    def handle(self, handler: Handler, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
        """Serve the request if it is one of ours; False lets the caller answer 404."""
        match method, parts:
            case "POST", ["v1", "projects", name, "run"]:
                handler.reply(200, run_oneoff(self.ops, name, handler.body()))
            case "GET", ["v1", "projects", name, "oneoff", cid, "attach"]:
                self.attach(handler, name, cid)
            case "POST", ["v1", "projects", name, "oneoff", cid, "remove"]:
                handler.reply(200, {"removed": self.ops.remove_oneoff(name, cid)})
            case "POST", ["v1", "projects", name, "rm"]:
                body = handler.body()
                handler.reply(200, self.ops.remove_stopped(
                    name, body.get("services", []), bool(body.get("stop")),
                    body.get("timeout"), bool(body.get("volumes"))))
            case "POST", ["v1", "projects", name, "scale"]:
                body = handler.body()
                replicas = {str(k): int(v) for k, v in (body.get("scale") or {}).items()}
                handler.reply(200, self.ops.scale(name, replicas, UpOptions(**body.get("options", {}))))
            case "POST", ["v1", "projects", name, "restart"]:
                body = handler.body()
                handler.reply(200, self.ops.restart_services(
                    name, body.get("services", []), body.get("timeout"),
                    body.get("containers", []), bool(body.get("no_deps"))))
            case "GET", ["v1", "projects", name, "ready"]:
                handler.reply(200, self.ops.readiness(name, query.get("service", [])))
            case "GET", ["v1", "projects", name, "inspect"]:
                refs = query.get("ref", [])
                handler.reply(200, [row for ref in refs for row in self.queries.inspect(name, ref)])
            case _:
                return False
        return True

    def attach(self, handler: Handler, project: str, cid: str) -> None:
        if Labelled.of(self.runtime.inspect(cid)).oneoff_project != project:
            raise EngineError(f"container {cid[:12]} is not a one-off container of project {project!r}")
        handler.stream_start()
        for record in oneoff.attach(self.runtime, cid, handler.stopping):
            handler.wfile.write(json.dumps(record).encode() + b"\n")
            handler.wfile.flush()


def run_oneoff(ops: ProjectOps, name: str, body: dict[str, Any],
               before_start: Callable[[str], None] | None = None) -> dict[str, Any]:
    """`run`'s one-off container, created and started (``before_start(id)`` between the two)."""
    spec = body.get("project")
    if not isinstance(spec, dict) or spec.get("name") != name:
        raise EngineError("run needs the loaded project (its model as JSON)")
    request = oneoff.RunRequest.from_body(body)
    spec = with_build_images(spec)  # a build-only service runs `<project>-<service>`, as `up` does
    try:
        project = Project.model_validate(spec)
    except ValueError as exc:
        raise EngineError(f"invalid project: {exc}") from exc
    info = ops.run(spec, project, bool(body.get("no_deps")), request, before_start)
    return {"id": info.id, "name": info.name}
