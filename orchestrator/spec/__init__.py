"""Compose files → a validated, canonical project model. Pure: no kernel, no network, no os.environ."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from orchestrator.spec.errors import ComposeError, Location

if TYPE_CHECKING:
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
    from orchestrator.spec.raw import load_raw_model

# The model and the loader are imported on first use (PEP 562): building the pydantic models costs
# about a third of a second, which CLI verbs that only need a project name (`down`, `ps`) skip.
_LAZY = {
    "LoadOptions": "orchestrator.spec.loader", "load_project": "orchestrator.spec.loader",
    "load_raw_model": "orchestrator.spec.raw",
    **{name: "orchestrator.spec.model" for name in (
        "BuildConfig", "DependsOn", "Deploy", "Healthcheck", "Network", "Project", "Service", "ServiceNetwork",
        "ServicePort", "ServiceVolume", "Volume")},
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
    "load_raw_model",
]
