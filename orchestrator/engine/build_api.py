"""The engine's build routes; progress streams as JSON lines (steps, their output, notes), then the result.

- ``POST /v1/images/build``: one build from a context directory (``pyorch image build``). Secrets
  come with the request (base64), read by the CLI from its files and environment.
- ``POST /v1/projects/build``: the services of a project that have ``build:`` (``pyorch build``,
  and ``pyorch up`` first, so its builds show their progress). The project comes as a model
  (``project``) or as the CLI's inputs (``source``); ``environ`` is the caller's environment, which
  Compose build secrets read; ``missing`` builds only what ``up`` would (a missing image, or
  ``pull_policy: build``).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.engine.compose_build import build_service, services_to_build, with_build_images
from orchestrator.engine.compose_source import project_from_source
from orchestrator.engine.images_api import stream_work
from orchestrator.engine.route_handler import Streamer as Handler
from orchestrator.engine.selection import dependencies_closure
from orchestrator.errors import EngineError
from orchestrator.spec.model import Project
from runtime.container.runtime import ContainerRuntime
from runtime.image.build import BuildEvent
from runtime.image.build.errors import BuildCancelled
from runtime.image.build.progress import VertexNumbers
from runtime.image.registry import Registries, pull_image
from runtime.network import NetworkManager

if TYPE_CHECKING:  # the builder is imported when something is built (runtime/image/build/__init__.py)
    from runtime.image.build import Builder, BuildRequest

Listener = Callable[[BuildEvent], None]
PARALLEL_SERVICES = 4


@dataclass(frozen=True)
class BuildRoutes:
    runtime: ContainerRuntime               # RUN steps run as containers; images land in its store
    network: NetworkManager                 # RUN steps on the build network
    registries: Callable[[], Registries]    # base images a build does not have are pulled
    in_use: Callable[[], set[str]]          # image ids of every container: `builder prune` keeps them

    def builder(self) -> Builder:
        """A builder that pulls base images it does not have (the engine's registry settings) and puts
        RUN steps on the build network through the engine's network manager."""
        from runtime.image.build import Builder

        registries = self.registries()
        return Builder(self.runtime, pull=lambda ref: pull_image(self.runtime.images, registries, ref, None),
                       network=self.network)

    def handle(self, handler: Handler, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
        """Serve the request if it is one of ours; False lets the caller answer 404."""
        match method, parts:
            case "POST", ["v1", "images", "build"]:
                request = image_request(handler.body())
                stream_work(handler, lambda listen: _one(self.builder(), request, listen), "image-build")
            case "POST", ["v1", "projects", "build"]:
                body = handler.body()
                project, environ = _project(body)
                names: list[str] | None = list(body["services"]) if body.get("services") else None
                if names and body.get("with_dependencies"):  # `up SERVICE…`: what it starts is what it builds
                    wanted = dependencies_closure({n: {"depends_on": s.depends_on or {}}
                                                   for n, s in project.services.items()}, names)
                    names = [n for n, s in project.services.items() if n in wanted and s.build]
                builder = self.builder()
                names = services_to_build(project, names, bool(body.get("missing")), builder)
                args = dict(body.get("args") or {})
                no_cache = bool(body.get("no_cache"))
                stream_work(handler,
                            lambda listen: _services(builder, project, names, no_cache, args, environ, listen),
                            "image-build")
            case "POST", ["v1", "builder", "prune"]:
                handler.reply(200, self.prune_builder())
            case _:
                return False
        return True

    def prune_builder(self) -> dict[str, Any]:
        """`builder prune`: the layer cache's entries, the cache mounts, and the build's intermediate
        images and layers no image or container keeps."""
        from runtime.image.build.cache import BuildCache  # here: only builds and prunes read the cache
        from runtime.image.build.cache_mounts import prune_cache_mounts

        store = self.runtime.images
        entries = BuildCache(store).prune()
        mounts = prune_cache_mounts(store.root)
        blobs = store.prune(keep_ids=self.in_use())
        return {"cache_entries": entries, "cache_mounts": mounts, "deleted_blobs": blobs}


def image_request(body: dict[str, Any]) -> BuildRequest:
    try:
        secrets = {str(k): base64.b64decode(str(v), validate=True) for k, v in (body.get("secrets") or {}).items()}
    except (binascii.Error, ValueError) as exc:
        raise EngineError(f"build secrets must be base64: {exc}") from None
    from runtime.image.build import BuildRequest

    return BuildRequest(
        context=Path(body["context"]),
        dockerfile=Path(body["dockerfile"]) if body.get("dockerfile") else None,
        build_args=dict(body.get("args") or {}), target=body.get("target") or None,
        labels=dict(body.get("labels") or {}), tags=list(body.get("tags") or []),
        no_cache=bool(body.get("no_cache")), network=str(body.get("network") or "default"),
        extra_hosts=dict(body.get("extra_hosts") or {}), secrets=secrets,
        allow=frozenset(body.get("allow") or []))


def _project(body: dict[str, Any]) -> tuple[Project, dict[str, str]]:
    try:
        if "source" in body:
            source = body["source"]
            spec = project_from_source(source)
            environ = dict(source.get("environ") or {})
        else:
            spec = body["project"]
            environ = dict(body.get("environ") or {})
        return Project.model_validate(with_build_images(spec)), environ
    except ValueError as exc:
        raise EngineError(f"invalid project: {exc}") from exc


def _one(builder: Builder, request: BuildRequest, listen: Listener) -> dict[str, Any]:
    result = builder.build(request, listen)
    return {"images": [{"id": result.image.id, "references": result.image.references, "ran": result.ran,
                        "cached": result.cached, "steps": [r.to_json() for r in result.records]}]}


def _services(builder: Builder, project: Project, names: list[str], no_cache: bool, args: dict[str, str],
              environ: dict[str, str], listen: Listener) -> dict[str, Any]:
    """The services build at the same time (as Compose v2 builds them), their steps numbered as one
    build's; the first failure cancels the others and is the answer."""
    numbers, cancelled = VertexNumbers(), threading.Event()
    wanted = []
    for name in names:
        if project.services[name].build is None:
            listen(BuildEvent("note", f"service {name} has no build section: skipped"))
        else:
            wanted.append(name)

    def one(name: str) -> dict[str, Any]:
        listen(BuildEvent("service", name))
        try:
            result = build_service(builder, project, project.services[name], listen, no_cache, args, environ,
                                   numbers=numbers, cancelled=cancelled)
        except BaseException:
            cancelled.set()
            raise
        return {"service": name, "id": result.image.id, "references": result.image.references,
                "ran": result.ran, "cached": result.cached, "steps": [r.to_json() for r in result.records]}

    with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL_SERVICES, len(wanted))),
                            thread_name_prefix="build-service") as pool:
        futures = [pool.submit(one, name) for name in wanted]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        real = [e for e in errors if not isinstance(e, BuildCancelled)]
        raise (real or errors)[0]
    return {"images": [f.result() for f in futures]}
