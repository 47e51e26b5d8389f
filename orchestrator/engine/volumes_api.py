"""`pyorch volume ls/inspect/rm/prune` and `pyorch volumes`: the engine's side, as `docker volume`.

Only the container runtime is needed: its volume store and which containers mount each volume
(running or stopped: Docker too refuses to remove a volume a stopped container uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.engine.route_handler import Replier as Handler
from orchestrator.errors import EngineError
from runtime.container.runtime import ContainerRuntime
from runtime.container.state import ContainerInfo
from runtime.errors import RuntimeFailure
from runtime.volume import Volume, VolumeNotFound

SERVICE_LABEL = "com.docker.compose.service"


@dataclass(frozen=True)
class VolumeRoutes:
    runtime: ContainerRuntime  # its volume store and which containers mount each volume

    def handle(self, handler: Handler, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
        """Serve the request if it is one of ours; False lets the caller answer 404."""
        runtime = self.runtime
        match method, parts:
            case "GET", ["v1", "volumes"]:
                handler.reply(200, list_volumes(runtime, query.get("filter", [])))
            case "POST", ["v1", "volumes", "remove"]:
                body = handler.body()
                handler.reply(200, remove_volumes(runtime, [str(n) for n in body.get("names") or []],
                                                   bool(body.get("force"))))
            case "POST", ["v1", "volumes", "prune"]:
                body = handler.body()
                filters = [str(f) for f in body.get("filters") or []]
                handler.reply(200, prune_volumes(runtime, bool(body.get("all")), filters))
            case "GET", ["v1", "volumes", name]:
                handler.reply(200, _row(runtime.volumes.get(name), runtime.volume_users().get(name, [])))
            case _:
                return False
        return True


def _row(volume: Volume, users: list[ContainerInfo]) -> dict[str, Any]:
    """`docker volume inspect`'s object, plus the containers that use the volume."""
    return {**volume.inspect(), "Containers": [
        {"id": c.id, "name": c.name, "service": c.labels.get(SERVICE_LABEL, ""), "status": c.status}
        for c in users]}


def matches(volume: Volume, users: list[ContainerInfo], filters: list[str]) -> bool:
    """Docker's `--filter`s: dangling=true|false, name=SUBSTRING, driver=NAME, label=KEY[=VALUE]."""
    for entry in filters:
        key, sep, value = entry.partition("=")
        if not sep:
            raise EngineError(f"bad filter {entry!r}: expected KEY=VALUE")
        if key == "dangling":
            if value.lower() not in ("true", "false", "1", "0"):
                raise EngineError(f"bad filter {entry!r}: dangling is true or false")
            if (not users) != (value.lower() in ("true", "1")):
                return False
        elif key == "name":
            if value not in volume.name:
                return False
        elif key == "driver":
            if volume.driver != value:
                return False
        elif key == "label":
            label, has_value, wanted = value.partition("=")
            if label not in volume.labels or (has_value and volume.labels[label] != wanted):
                return False
        else:
            raise EngineError(f"bad filter {key!r}: use dangling, name, driver or label")
    return True


def list_volumes(runtime: ContainerRuntime, filters: list[str]) -> list[dict[str, Any]]:
    users = runtime.volume_users()
    return [_row(v, users.get(v.name, [])) for v in runtime.volumes.list()
            if matches(v, users.get(v.name, []), filters)]


def remove_volumes(runtime: ContainerRuntime, names: list[str], force: bool) -> dict[str, Any]:
    """Each volume in turn; one in use (or missing, unless ``force``) is an error that does not stop the rest."""
    users = runtime.volume_users()
    removed, errors = [], []
    for name in names:
        try:
            runtime.volumes.remove(name, [c.name for c in users.get(name, [])])
            removed.append(name)
        except VolumeNotFound as exc:
            if not force:
                errors.append(str(exc))
        except RuntimeFailure as exc:
            errors.append(str(exc))
    return {"removed": removed, "errors": errors}


def prune_volumes(runtime: ContainerRuntime, everything: bool, filters: list[str]) -> dict[str, Any]:
    """Unused anonymous volumes (with ``everything``: every unused volume), as Docker ≥ 23 prunes."""
    users = runtime.volume_users()
    removed, reclaimed = [], 0
    for volume in runtime.volumes.list():
        if users.get(volume.name) or not (everything or volume.anonymous) or not matches(volume, [], filters):
            continue
        size = runtime.volumes.size(volume)
        try:
            runtime.volumes.remove(volume.name, [])
        except RuntimeFailure:
            continue
        removed.append(volume.name)
        reclaimed += size
    return {"removed": removed, "reclaimed": reclaimed}
