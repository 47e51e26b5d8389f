"""Compose ``build:`` sections: which services build, under what name, with which inputs.

Like `docker compose build`: the image is the service's ``image`` or ``<project>-<service>``; the
build gets ``context`` (default the project directory), ``dockerfile`` (relative to the context) or
``dockerfile_inline``, ``args``, ``target``, ``labels`` and extra ``tags``. ``up`` builds a service
whose image is missing, and every service with ``build:`` under ``up --build``. The other build keys
(``cache_from``, ``platforms``, ``secrets``, ``ssh``, …) are accepted and not applied.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.errors import EngineError
from orchestrator.spec.model import Project, Service
from runtime.errors import RuntimeFailure
from runtime.image import Image, ImageNotFound
from runtime.image.build import Builder, BuildEvent, BuildRequest, BuildResult

APPLIED_BUILD_KEYS = ("context", "dockerfile", "dockerfile_inline", "args", "target", "labels", "tags", "no_cache")


def default_image(project: str, service: str) -> str:
    return f"{project}-{service}".lower()


def with_build_images(spec: dict[str, Any]) -> dict[str, Any]:
    """The project spec with ``image`` filled in for services that only have ``build:`` (pure)."""
    services = {}
    for name, service in (spec.get("services") or {}).items():
        if isinstance(service, dict) and service.get("build") and not service.get("image"):
            service = {**service, "image": default_image(str(spec.get("name", "")), name)}
        services[name] = service
    return {**spec, "services": services}


def build_request(project: Project, service: Service, no_cache: bool = False,
                  extra_args: dict[str, str] | None = None) -> BuildRequest:
    build = service.build
    if build is None:
        raise EngineError(f"service {service.name!r} has no build section")
    context = Path(build.context or ".")
    if not context.is_absolute():
        context = Path(project.working_dir) / context
    dockerfile = Path(build.dockerfile) if build.dockerfile else None
    image = service.image or default_image(project.name, service.name)
    args = {k: v for k, v in (build.args or {}).items() if v is not None}
    return BuildRequest(context=context, dockerfile=dockerfile, dockerfile_inline=build.dockerfile_inline,
                        build_args={**args, **(extra_args or {})}, target=build.target,
                        labels=dict(build.labels or {}), tags=[image, *(build.tags or [])],
                        no_cache=no_cache or bool(build.no_cache))


def build_service(builder: Builder, project: Project, service: Service, listener: Callable[[BuildEvent], None],
                  no_cache: bool = False, extra_args: dict[str, str] | None = None) -> BuildResult:
    try:
        return builder.build(build_request(project, service, no_cache, extra_args), listener)
    except RuntimeFailure as exc:
        raise EngineError(f"service {service.name!r}: build failed: {exc}") from exc


def ensure_built(builder: Builder, project: Project, service: Service, force: bool = False) -> Image | None:
    """Build the service's image when it is missing (or always with ``force``); None when nothing was built."""
    if service.build is None:
        return None
    image = service.image or default_image(project.name, service.name)
    if not force and service.pull_policy != "build":
        try:
            builder.store.resolve(image)
            return None
        except ImageNotFound:
            pass
        except RuntimeFailure as exc:
            raise EngineError(f"service {service.name!r}: {exc}") from exc
    return build_service(builder, project, service, lambda event: None).image
