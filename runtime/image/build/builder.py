"""`pyorch build`: a Dockerfile and a context directory in, an image in the store out.

Two passes over the stages the target needs (`run.py`): a check pass that expands and validates
every instruction without touching anything (a bad Dockerfile fails with file:line before any
step runs), then the build pass, where independent stages build at the same time. Each stage is a
list of layers plus a `StageConfig`; RUN, COPY, ADD and WORKDIR (when the directory is missing)
add a layer (a RUN that changed nothing adds none), the rest only change the config. Layers come
from the cache when their key matches (`cache.py`); a rebuild with nothing changed runs no RUN
and writes no layer. Progress is reported per step as BuildKit does (`progress.py`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runtime.container.runtime import ContainerRuntime
from runtime.image.build import metadata
from runtime.image.build.cache import BuildCache
from runtime.image.build.errors import BuildError, DockerfileError
from runtime.image.build.metadata import StageConfig
from runtime.image.build.network import HOST_GATEWAY, BuildNetwork
from runtime.image.build.parser import Dockerfile, parse
from runtime.image.build.progress import BuildEvent, Listener, Progress, StepRecord, VertexNumbers
from runtime.image.build.run import BuildRun
from runtime.image.build.run_instruction import NETWORK_MODES
from runtime.image.build.stages import Plan, Stage, needed_stages, select_target, split_stages
from runtime.image.build.state import StageState
from runtime.image.config import ImageConfig
from runtime.image.store import Image, ImageStore
from runtime.network import NetworkManager

Pull = Callable[[str], Image]
ENTITLEMENTS = frozenset({"network.host"})


@dataclass(frozen=True)
class BuildRequest:
    context: Path
    dockerfile: Path | None = None          # default: <context>/Dockerfile
    dockerfile_inline: str | None = None    # Compose's dockerfile_inline
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    no_cache: bool = False
    network: str = "default"                # RUN's default network: default | none | host (build.network)
    extra_hosts: dict[str, str] = field(default_factory=dict)   # name -> address or "host-gateway"
    secrets: dict[str, bytes] = field(default_factory=dict)     # secret id -> value (build.secrets, --secret)
    allow: frozenset[str] = frozenset()     # entitlements granted: network.host
    progress_prefix: str = ""               # shown in every step's name, as Compose shows the service

    def __repr__(self) -> str:  # secrets never end up in a log or a traceback
        return f"BuildRequest(context={self.context!r}, tags={self.tags!r}, secrets={sorted(self.secrets)!r})"


@dataclass(frozen=True)
class BuildResult:
    image: Image
    steps: int
    cached: int          # layer steps taken from the cache
    ran: int             # RUN steps executed
    warnings: list[str]
    records: list[StepRecord] = field(default_factory=list)  # every step's start and end


class Builder:
    def __init__(self, runtime: ContainerRuntime, pull: Pull | None = None,
                 network: NetworkManager | None = None) -> None:
        self.runtime = runtime
        self.store: ImageStore = runtime.images
        self.cache = BuildCache(self.store)
        self.pull = pull
        self.network = network  # the engine's; a builder on its own makes one when a RUN needs it

    def build(self, request: BuildRequest, listener: Listener = lambda e: None, numbers: VertexNumbers | None = None,
              cancelled: threading.Event | None = None) -> BuildResult:
        """Build the image. Builds side by side may share their step ``numbers`` (one listener) and a
        ``cancelled`` event (the first to fail stops the others)."""
        _check_request(request)
        progress = Progress(listener, request.progress_prefix, numbers)
        definition = progress.internal(f"load build definition from {_dockerfile_name(request)}")
        try:
            dockerfile, plan, stages, global_args = self._prepare(request)
        except BaseException:
            definition.fail()
            raise
        definition.done()
        for note in dockerfile.notes:
            progress.note(note)
        network = BuildNetwork(self.network or (lambda: NetworkManager(self.runtime.layout)),
                               alive=lambda cid: (self.runtime.layout.containers_dir / cid).exists())
        run = BuildRun(self, request, dockerfile, plan, global_args, progress, network, cancelled)
        try:
            run.check(stages)
            with self.store.writing():
                final = run.build(stages)
                image = self._export(request, final, progress)
        finally:
            network.close()
        warnings = [f"build argument {name!r} was given but no ARG declares it"
                    for name in sorted(set(request.build_args) - run.declared_args)]
        for warning in warnings:
            progress.note(warning)
        return BuildResult(image, run.steps, run.cached, run.ran, warnings,
                           sorted(progress.records, key=lambda r: r.vertex))

    def _export(self, request: BuildRequest, final: StageState, progress: Progress) -> Image:
        config = final.config
        vertex = progress.start(f"[{request.progress_prefix}] exporting to image" if request.progress_prefix
                                else "exporting to image")
        image_config = dataclasses.replace(config.image, labels={**config.image.labels, **request.labels})
        image = self.store.add_image(list(final.layers), image_config, request.tags[0] if request.tags else None,
                                     history=list(final.history))
        vertex.status(f"writing image {image.id} done")
        for tag in request.tags[1:]:
            image = self.store.tag(image.id, tag)
        for reference in image.references:
            vertex.status(f"naming to {reference} done")
        vertex.done()
        return image

    def _prepare(self, request: BuildRequest) -> tuple[Dockerfile, Plan, list[Stage], dict[str, str]]:
        if not request.context.is_dir():
            raise BuildError(f"build context {request.context} is not a directory")
        if request.dockerfile_inline is not None:
            text, name = request.dockerfile_inline, "dockerfile_inline"
        else:
            path = _dockerfile_path(request)
            try:
                text, name = path.read_text(), str(path)
            except OSError as exc:
                raise BuildError(f"cannot read the Dockerfile {path}: {exc.strerror or exc}") from None
        dockerfile = parse(text, name)
        plan = split_stages(dockerfile)
        global_config = StageConfig()
        for ins in plan.global_args:
            global_config = metadata.declare_args(dockerfile, ins, global_config, request.build_args, {})
        target = select_target(plan, request.target)
        return dockerfile, plan, needed_stages(plan, target, global_config.args), global_config.args


def _dockerfile_path(request: BuildRequest) -> Path:
    path = request.dockerfile or request.context / "Dockerfile"
    return path if path.is_absolute() else request.context / path


def _dockerfile_name(request: BuildRequest) -> str:
    return "dockerfile_inline" if request.dockerfile_inline is not None else _dockerfile_path(request).name


def _check_request(request: BuildRequest) -> None:
    """Options that are wrong whatever the Dockerfile says: refused before anything is read."""
    if request.network not in NETWORK_MODES:
        raise BuildError(f"build network {request.network!r} is not supported: want default, none or host "
                         "(builds do not join project networks)")
    unknown = sorted(request.allow - ENTITLEMENTS)
    if unknown:
        raise BuildError(f"unknown entitlement {unknown[0]!r} (pyorch grants: {', '.join(sorted(ENTITLEMENTS))})")
    for name, address in request.extra_hosts.items():
        if not name or (address != HOST_GATEWAY and not _is_ip(address)):
            raise BuildError(f"extra host {name}:{address}: want NAME:IP or NAME:host-gateway")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


__all__ = ["BuildEvent", "BuildRequest", "BuildResult", "Builder", "DockerfileError", "ImageConfig"]
