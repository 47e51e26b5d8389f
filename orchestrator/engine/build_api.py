"""The engine's build routes; progress streams as JSON lines (steps, RUN output, notes), then the result.

- ``POST /v1/images/build``: one build from a context directory (``pyorch image build``).
- ``POST /v1/projects/build``: the services of a project that have ``build:`` (``pyorch build``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.engine.compose_build import build_service, with_build_images
from orchestrator.engine.engine import Engine
from orchestrator.engine.images_api import Handler, stream_work
from orchestrator.errors import EngineError
from orchestrator.spec.model import Project
from runtime.image.build import Builder, BuildEvent, BuildRequest
from runtime.image.registry import pull_image

Listener = Callable[[BuildEvent], None]


def builder_for(engine: Engine) -> Builder:
    """A builder that pulls base images it does not have, through the engine's registry settings."""
    registries = engine.registries()
    return Builder(engine.runtime, pull=lambda ref: pull_image(engine.runtime.images, registries, ref, None))


def handle(handler: Handler, engine: Engine, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
    match method, parts:
        case "POST", ["v1", "images", "build"]:
            body = handler.body()
            request = BuildRequest(
                context=Path(body["context"]),
                dockerfile=Path(body["dockerfile"]) if body.get("dockerfile") else None,
                build_args=dict(body.get("args") or {}), target=body.get("target") or None,
                labels=dict(body.get("labels") or {}), tags=list(body.get("tags") or []),
                no_cache=bool(body.get("no_cache")))
            stream_work(handler, lambda listen: _one(builder_for(engine), request, listen), "image-build")
        case "POST", ["v1", "projects", "build"]:
            body = handler.body()
            try:
                project = Project.model_validate(with_build_images(body["project"]))
            except ValueError as exc:
                raise EngineError(f"invalid project: {exc}") from exc
            names = list(body.get("services") or [n for n, s in project.services.items() if s.build])
            unknown = [n for n in names if n not in project.services]
            if unknown:
                raise EngineError(f"no such service: {', '.join(unknown)}")
            args = dict(body.get("args") or {})
            no_cache = bool(body.get("no_cache"))
            stream_work(handler, lambda listen: _services(builder_for(engine), project, names, no_cache, args, listen),
                        "image-build")
        case _:
            return False
    return True


def _one(builder: Builder, request: BuildRequest, listen: Listener) -> dict[str, Any]:
    result = builder.build(request, listen)
    return {"images": [{"id": result.image.id, "references": result.image.references, "ran": result.ran,
                        "cached": result.cached}]}


def _services(builder: Builder, project: Project, names: list[str], no_cache: bool, args: dict[str, str],
              listen: Listener) -> dict[str, Any]:
    built = []
    for name in names:
        service = project.services[name]
        if service.build is None:
            listen(BuildEvent("note", f"service {name} has no build section: skipped"))
            continue
        listen(BuildEvent("service", name))
        result = build_service(builder, project, service, listen, no_cache, args)
        built.append({"service": name, "id": result.image.id, "references": result.image.references,
                      "ran": result.ran, "cached": result.cached})
    return {"images": built}
