"""Which containers are probed: exactly the running replicas whose service (or image) has a check."""

from __future__ import annotations

from orchestrator.engine.observation import Observation
from orchestrator.engine.probes import HealthMonitor
from orchestrator.engine.translate import health_check_for
from orchestrator.planner.health import HealthCheck
from orchestrator.spec import Project
from runtime.errors import RuntimeFailure
from runtime.image import ImageStore


class HealthSync:
    def __init__(self, monitor: HealthMonitor, images: ImageStore) -> None:
        self.monitor = monitor
        self.images = images

    def check_of(self, project: Project, service: str, image: str) -> HealthCheck | None:
        """The service's check, its gaps filled from the image's HEALTHCHECK."""
        try:
            image_hc = self.images.resolve(image).config.healthcheck
        except RuntimeFailure:
            image_hc = None
        return health_check_for(project.services[service], image_hc)

    def sync(self, project: Project, seen: Observation) -> None:
        """Start monitors for new running replicas, end those of replicas that stopped or restarted."""
        running: dict[str, tuple[float, HealthCheck | None]] = {}
        checks: dict[tuple[str, str], HealthCheck | None] = {}  # replicas share their service's check
        for c in seen.running(project.name):
            if c.service not in project.services:
                continue
            # by id: the image the container was made from, also after its tag moved on
            image = c.info.record.image_id or c.info.record.image
            key = (c.service, image)
            if key not in checks:
                checks[key] = self.check_of(project, c.service, image)
            running[c.id] = (c.started_at, checks[key])
        self.monitor.sync(project.name, running)
