"""The engine's routes for `run`, `rm`, `scale` and `inspect` (project verbs beyond up/down)."""

from __future__ import annotations

import json
from typing import Any, Protocol

from orchestrator.engine import oneoff, project_ops
from orchestrator.engine.compose_build import ensure_built, with_build_images
from orchestrator.engine.engine import Engine, UpOptions
from orchestrator.engine.selection import select_services
from orchestrator.errors import EngineError
from orchestrator.spec import Project
from runtime.image.build import Builder


class Handler(Protocol):
    """What this module needs of the API's request handler."""

    wfile: Any
    server: Any

    def _body(self) -> dict[str, Any]: ...
    def _reply(self, status: int, payload: Any) -> None: ...
    def _stream_start(self) -> None: ...


def handle(handler: Handler, engine: Engine, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
    """Serve the request if it is one of ours; False lets the caller answer 404."""
    match method, parts:
        case "POST", ["v1", "projects", name, "run"]:
            handler._reply(200, _run(engine, name, handler._body()))
        case "GET", ["v1", "projects", name, "oneoff", cid, "attach"]:
            _attach(handler, engine, name, cid)
        case "POST", ["v1", "projects", name, "oneoff", cid, "remove"]:
            handler._reply(200, {"removed": oneoff.remove_oneoff(engine, name, cid)})
        case "POST", ["v1", "projects", name, "rm"]:
            body = handler._body()
            handler._reply(200, project_ops.remove_stopped(
                engine, name, [str(s) for s in body.get("services") or []], bool(body.get("stop")),
                body.get("timeout"), bool(body.get("volumes"))))
        case "POST", ["v1", "projects", name, "scale"]:
            body = handler._body()
            replicas = {str(k): int(v) for k, v in (body.get("scale") or {}).items()}
            handler._reply(200, project_ops.scale(engine, name, replicas, UpOptions(**body.get("options", {}))))
        case "GET", ["v1", "projects", name, "inspect"]:
            refs = query.get("ref", [])
            handler._reply(200, [row for ref in refs for row in project_ops.inspect(engine, name, ref)])
        case _:
            return False
    return True


def _run(engine: Engine, name: str, body: dict[str, Any]) -> dict[str, Any]:
    spec = body.get("project")
    if not isinstance(spec, dict) or spec.get("name") != name:
        raise EngineError("run needs the project (as `pyorch config --format json` prints it)")
    request = oneoff.RunRequest.from_body(body)
    spec = with_build_images(spec)  # a build-only service runs `<project>-<service>`, as `up` does
    try:
        project = Project.model_validate(spec)
    except ValueError as exc:
        raise EngineError(f"invalid project: {exc}") from exc
    if request.service not in project.services:
        raise EngineError(f"no such service: {request.service}")
    deps = list(project.services[request.service].depends_on or {})
    if deps and not body.get("no_deps"):
        # Like Compose: the service's dependencies are started (and waited for) first.
        result = engine.up(select_services(spec, engine.store.current_spec(name), deps, no_deps=False), UpOptions())
        if result["errors"]:
            raise EngineError("dependencies failed: " + "; ".join(result["errors"]))
    ensure_built(Builder(engine.runtime), project, project.services[request.service])  # when missing
    info = oneoff.start_oneoff(engine, project, engine.store.current_revision(name) or 0, request)
    return {"id": info.id, "name": info.name}


def _attach(handler: Handler, engine: Engine, project: str, cid: str) -> None:
    info = engine.runtime.inspect(cid)
    if info.labels.get(oneoff.LABEL_ONEOFF_PROJECT) != project:
        raise EngineError(f"container {cid[:12]} is not a one-off container of project {project!r}")
    handler._stream_start()
    for record in oneoff.attach(engine.runtime, cid, handler.server.shutdown_requested.is_set):
        handler.wfile.write(json.dumps(record).encode() + b"\n")
        handler.wfile.flush()
