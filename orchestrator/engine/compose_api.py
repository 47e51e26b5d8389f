"""The engine's routes for `run`, `rm`, `scale` and `inspect` (project verbs beyond up/down)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from orchestrator.engine import oneoff
from orchestrator.engine.compose_build import with_build_images
from orchestrator.engine.engine import Engine
from orchestrator.engine.labels import Labelled
from orchestrator.engine.project_ops import UpOptions
from orchestrator.errors import EngineError
from orchestrator.spec import Project


class Handler(Protocol):
    """What this module needs of the API's request handler."""

    wfile: Any
    server: Any

    def body(self) -> dict[str, Any]: ...
    def reply(self, status: int, payload: Any) -> None: ...
    def stream_start(self) -> None: ...


def handle(handler: Handler, engine: Engine, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
    """Serve the request if it is one of ours; False lets the caller answer 404."""
    match method, parts:
        case "POST", ["v1", "projects", name, "run"]:
            handler.reply(200, run_oneoff(engine, name, handler.body()))
        case "GET", ["v1", "projects", name, "oneoff", cid, "attach"]:
            _attach(handler, engine, name, cid)
        case "POST", ["v1", "projects", name, "oneoff", cid, "remove"]:
            handler.reply(200, {"removed": engine.ops.remove_oneoff(name, cid)})
        case "POST", ["v1", "projects", name, "rm"]:
            body = handler.body()
            handler.reply(200, engine.ops.remove_stopped(
                name, [str(s) for s in body.get("services") or []], bool(body.get("stop")),
                body.get("timeout"), bool(body.get("volumes"))))
        case "POST", ["v1", "projects", name, "scale"]:
            body = handler.body()
            replicas = {str(k): int(v) for k, v in (body.get("scale") or {}).items()}
            handler.reply(200, engine.ops.scale(name, replicas, UpOptions(**body.get("options", {}))))
        case "GET", ["v1", "projects", name, "inspect"]:
            refs = query.get("ref", [])
            handler.reply(200, [row for ref in refs for row in engine.queries.inspect(name, ref)])
        case _:
            return False
    return True


def run_oneoff(engine: Engine, name: str, body: dict[str, Any],
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
    info = engine.ops.run(spec, project, bool(body.get("no_deps")), request, before_start)
    return {"id": info.id, "name": info.name}


def _attach(handler: Handler, engine: Engine, project: str, cid: str) -> None:
    if Labelled.of(engine.runtime.inspect(cid)).oneoff_project != project:
        raise EngineError(f"container {cid[:12]} is not a one-off container of project {project!r}")
    handler.stream_start()
    for record in oneoff.attach(engine.runtime, cid, handler.server.shutdown_requested.is_set):
        handler.wfile.write(json.dumps(record).encode() + b"\n")
        handler.wfile.flush()
