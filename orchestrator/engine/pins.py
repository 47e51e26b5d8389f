"""What `up` fixes in the stored revision beyond the Compose file: the image each service's tag
pointed to, `--no-recreate`, and which services the file has.

Compose labels each container with the id of the image its tag named when `up` ran (after its
pulls and builds: `com.docker.compose.image`) and recreates a container whose label differs from
what the tag names at the next `up` (docker/compose v2.40.3 `ensureImagesExists`, `mustRecreate`).
pyorch's loop converges the stored revision continuously, so the ids are stored with it, as
`x-` keys of the services (Compose's config hash leaves `x-` keys out, so the hash stays
Compose's): containers are made from exactly that image (a later `pull` or `build` that moves the
tag changes nothing until the next `up`; a rollback restores the image it rolls back to), and a
container of another image is outdated. `--no-recreate` is stored the same way, so that the loop
does not recreate what that `up` kept (it would, two seconds later, for a changed file). The names
of every service of the file (those a profile or `up SERVICE…` left out too) let verbs refuse a
name the file does not have, as Compose does (`no such service: X`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.engine.selection import dependencies_closure
from orchestrator.planner.rollout import version
from orchestrator.spec import Project, Service
from orchestrator.spec.confighash import config_hash

IMAGE_KEY = "x-pyorch-image-id"
NO_RECREATE_KEY = "x-pyorch-no-recreate"
FILE_SERVICES_KEY = "x-pyorch-file-services"


def with_pins(spec: dict[str, Any], image_ids: Mapping[str, str], no_recreate: bool,
              file_services: Iterable[str] = ()) -> dict[str, Any]:
    """The spec to store: ``image_ids`` (service → image id) pinned, others keep what they had;
    ``file_services``: every service the file defines."""
    result = copy.deepcopy(spec)
    result[FILE_SERVICES_KEY] = sorted({*file_services, *(result.get("services") or {})})
    for name, image_id in image_ids.items():
        service = (result.get("services") or {}).get(name)
        if isinstance(service, dict):
            service[IMAGE_KEY] = image_id
    if no_recreate:
        result[NO_RECREATE_KEY] = True
    else:
        result.pop(NO_RECREATE_KEY, None)
    return result


def pinned_image(service: Service) -> str | None:
    value = (service.model_extra or {}).get(IMAGE_KEY)
    return str(value) if value else None


def keeps_containers(project: Project) -> bool:
    """The revision was stored by `up --no-recreate`: existing containers are never recreated."""
    return bool((project.model_extra or {}).get(NO_RECREATE_KEY))


def service_version(project: Project, name: str) -> str:
    """What a rollout of the service goes to: its config hash and pinned image."""
    return version(config_hash(project, name), pinned_image(project.services[name]))


def known_services(spec: dict[str, Any]) -> set[str]:
    """The services a stored spec's file has (the stored ones, profile-disabled ones, and the file's
    others that `up SERVICE…` did not select)."""
    return {*(spec.get("services") or {}), *(spec.get("disabled_services") or []),
            *(spec.get(FILE_SERVICES_KEY) or [])}


def selected_services(spec: dict[str, Any], services: Iterable[str], no_deps: bool) -> set[str]:
    """The services `up SERVICE…` takes from the file (all of them when none is named)."""
    known: dict[str, Any] = spec.get("services") or {}
    chosen = list(services)
    if not chosen:
        return set(known)
    return {n for n in chosen if n in known} if no_deps else dependencies_closure(known, chosen)
