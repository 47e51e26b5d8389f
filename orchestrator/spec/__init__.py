"""Compose files → a validated, canonical project model. Pure: no kernel, no network, no os.environ."""

from orchestrator.spec.errors import ComposeError, Location
from orchestrator.spec.loader import LoadOptions, load_project
from orchestrator.spec.model import (
    BuildConfig,
    DependsOn,
    Deploy,
    Healthcheck,
    Network,
    Project,
    Service,
    ServiceNetwork,
    ServicePort,
    ServiceVolume,
    Volume,
)

__all__ = [
    "BuildConfig",
    "ComposeError",
    "DependsOn",
    "Deploy",
    "Healthcheck",
    "LoadOptions",
    "Location",
    "Network",
    "Project",
    "Service",
    "ServiceNetwork",
    "ServicePort",
    "ServiceVolume",
    "Volume",
    "load_project",
]
