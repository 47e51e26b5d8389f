"""Compose ``build:`` sections: which services build, under what name, with which inputs.

Like `docker compose build`: the image is the service's ``image`` or ``<project>-<service>``; the
build gets ``context`` (default the project directory), ``dockerfile`` (relative to the context) or
``dockerfile_inline``, ``args``, ``target``, ``labels``, extra ``tags``, ``network`` (RUN's default
network: default, none or host), ``extra_hosts``, ``secrets`` (from the top-level ``secrets:``:
a file, an environment variable of the caller, or inline content; ``target`` renames the id the
Dockerfile sees) and ``entitlements`` (``network.host``). ``up`` builds a service whose image is
missing, and every service with ``build:`` under ``up --build``. The other build keys
(``cache_from``, ``platforms``, ``ssh``, …) are accepted and not applied.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.errors import EngineError, NoSuchService
from orchestrator.spec.model import Project, Service
from runtime.errors import RuntimeFailure
from runtime.image import Image, ImageNotFound
from runtime.image.build import BuildEvent
from runtime.image.build.errors import BuildCancelled
from runtime.image.build.progress import VertexNumbers

if TYPE_CHECKING:  # the builder is imported when something is built (runtime/image/build/__init__.py)
    from runtime.image.build import Builder, BuildRequest, BuildResult

APPLIED_BUILD_KEYS = ("context", "dockerfile", "dockerfile_inline", "args", "target", "labels", "tags", "no_cache",
                      "network", "extra_hosts", "secrets", "entitlements")


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


def build_secrets(project: Project, service: Service, environ: Mapping[str, str]) -> dict[str, bytes]:
    """The values of the service's ``build.secrets``, by the id the Dockerfile uses."""
    build = service.build
    values: dict[str, bytes] = {}
    for ref in (build.secrets if build is not None else None) or []:
        secret = project.secrets.get(ref.source)
        if secret is None:
            raise EngineError(f"service {service.name!r}: build secret {ref.source!r} is not defined in the "
                              "top-level secrets")
        if secret.file is not None:
            try:
                value = Path(secret.file).read_bytes()
            except OSError as exc:
                raise EngineError(f"service {service.name!r}: build secret {ref.source!r}: cannot read "
                                  f"{secret.file}: {exc.strerror or exc}") from None
        elif secret.environment is not None:
            if secret.environment not in environ:
                raise EngineError(f"service {service.name!r}: build secret {ref.source!r}: the environment "
                                  f"variable {secret.environment} is not set")
            value = environ[secret.environment].encode()
        elif secret.content is not None:
            value = secret.content.encode()
        else:
            raise EngineError(f"service {service.name!r}: build secret {ref.source!r} has no file, environment "
                              "or content (external secrets cannot be read by a build)")
        values[ref.target or ref.source] = value
    return values


def build_request(project: Project, service: Service, no_cache: bool = False,
                  extra_args: dict[str, str] | None = None, environ: Mapping[str, str] | None = None,
                  ) -> BuildRequest:
    build = service.build
    if build is None:
        raise EngineError(f"service {service.name!r} has no build section")
    context = Path(build.context or ".")
    if not context.is_absolute():
        context = Path(project.working_dir) / context
    dockerfile = Path(build.dockerfile) if build.dockerfile else None
    image = service.image or default_image(project.name, service.name)
    args = {k: v for k, v in (build.args or {}).items() if v is not None}
    from runtime.image.build import BuildRequest

    return BuildRequest(context=context, dockerfile=dockerfile, dockerfile_inline=build.dockerfile_inline,
                        build_args={**args, **(extra_args or {})}, target=build.target,
                        labels=dict(build.labels or {}), tags=[image, *(build.tags or [])],
                        no_cache=no_cache or bool(build.no_cache), network=build.network or "default",
                        extra_hosts=dict(build.extra_hosts or {}),
                        secrets=build_secrets(project, service, environ or {}),
                        allow=frozenset(build.entitlements or []), progress_prefix=service.name)


def build_service(builder: Builder, project: Project, service: Service, listener: Callable[[BuildEvent], None],
                  no_cache: bool = False, extra_args: dict[str, str] | None = None,
                  environ: Mapping[str, str] | None = None, numbers: VertexNumbers | None = None,
                  cancelled: threading.Event | None = None) -> BuildResult:
    try:
        return builder.build(build_request(project, service, no_cache, extra_args, environ), listener, numbers,
                             cancelled)
    except BuildCancelled:
        raise
    except RuntimeFailure as exc:
        raise EngineError(f"service {service.name!r}: build failed: {exc}") from exc


def needs_build(builder: Builder, project: Project, service: Service) -> bool:
    """`up` builds a service whose image is missing, or always with ``pull_policy: build``."""
    if service.build is None:
        return False
    if service.pull_policy == "build":
        return True
    try:
        builder.store.resolve(service.image or default_image(project.name, service.name))
        return False
    except ImageNotFound:
        return True
    except RuntimeFailure as exc:
        raise EngineError(f"service {service.name!r}: {exc}") from exc


def ensure_built(builder: Builder, project: Project, service: Service, force: bool = False) -> Image | None:
    """Build the service's image when it is missing (or always with ``force``); None when nothing was built.

    The CLI builds before `up` (streaming the progress); this is the engine's own safety net for API
    callers, so only file and inline secrets are available here (no caller environment)."""
    if service.build is None or not (force or needs_build(builder, project, service)):
        return None
    return build_service(builder, project, service, lambda event: None).image


def services_to_build(project: Project, names: list[str] | None, only_missing: bool, builder: Builder) -> list[str]:
    """The services (of ``names``, None for every one with ``build:``) a build request covers."""
    chosen = names if names is not None else [n for n, s in project.services.items() if s.build]
    NoSuchService.refuse_unknown(project.services, chosen)
    if only_missing:
        chosen = [n for n in chosen if needs_build(builder, project, project.services[n])]
    return chosen

