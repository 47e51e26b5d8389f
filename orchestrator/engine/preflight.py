"""Pre-flight: what would fail half-way is refused before anything changes (DESIGN invariant 6):
unsupported networks, secrets and configs that cannot be read, external volumes that are missing
and volumes that exist with other driver options, images that are missing and may not be pulled
(built first when the service has `build:`), host ports another program or project holds."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from orchestrator.engine.compose_build import ensure_built, needs_build
from orchestrator.engine.file_objects import check_file_objects
from orchestrator.engine.netplan import check_networks
from orchestrator.engine.publishing import Publisher
from orchestrator.engine.pull_policy import ensure_image
from orchestrator.engine.volume_mounts import check_volumes
from orchestrator.errors import EngineError
from orchestrator.spec import Project, Service
from runtime.errors import RuntimeFailure
from runtime.image import ImageStore
from runtime.image.registry import Registries
from runtime.network import NetworkInfo
from runtime.volume import VolumeStore

if TYPE_CHECKING:
    from runtime.image.build import Builder


class Preflight:
    def __init__(self, networks: Callable[[], list[NetworkInfo]], images: ImageStore,
                 builder: Callable[[], Builder], registries: Callable[[], Registries], publisher: Publisher,
                 volumes: Callable[[], VolumeStore]) -> None:
        self.networks = networks
        self.images = images
        self.builder = builder
        self.registries = registries
        self.publisher = publisher
        self.volumes = volumes

    def check(self, project: Project, pull: str | None = None) -> None:
        """Raise EngineError for the first thing that would fail; builds and pulls what is needed."""
        check_networks(project, self.networks())
        check_file_objects(project)
        check_volumes(project, self.volumes())
        listening: dict[str, set[int]] = {}  # the host's listening ports, read once for every service
        registries = self.registries()  # the settings' files and environment, read once for every service
        for service in project.services.values():
            self.build_missing(project, service)
            if not service.image:
                raise EngineError(f"service {service.name!r} has no image")
            ensure_image(self.images, registries, service.name, service.image, service.pull_policy, pull,
                         service.platform)
            self.publisher.check(project, service.name, listening)

    def image_ids(self, project: Project, services: Iterable[str]) -> dict[str, str]:
        """The id each service's image names now (after `check`'s pulls and builds): what `up` pins."""
        ids = {}
        for name in services:
            image = project.services[name].image if name in project.services else None
            if image:
                try:
                    ids[name] = self.images.resolve(image).id
                except RuntimeFailure as exc:
                    raise EngineError(f"service {name!r}: {exc}") from exc
        return ids

    def unbuilt(self, project: Project) -> list[str]:
        """The services `check` would build (their image is missing, or `pull_policy: build`)."""
        if not any(service.build for service in project.services.values()):
            return []
        builder = self.builder()
        return [name for name, service in project.services.items() if needs_build(builder, project, service)]

    def build_missing(self, project: Project, service: Service) -> None:
        """Build the image of a service with `build:` when it is missing."""
        if service.build is not None:
            ensure_built(self.builder(), project, service)
