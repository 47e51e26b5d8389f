"""The engine's routes for `cp`: what a path in a service's container is, and a socket to a worker
in that container's mount namespace that writes or takes a tar (runtime/container/copy.py). The
container may be running or stopped, as with `docker compose cp`. As with terminal sessions, the
engine hands the socket over and the bytes go around it.

    POST /v1/projects/{name}/copy/stat     {service, index, path, follow_link} → {exists, dir, parent_dir}
    POST /v1/projects/{name}/copy/archive  {service, index, path, arcname, follow_link}
                                           → {container}, with a socket: a JSON line, then the tar
    POST /v1/projects/{name}/copy/extract  {service, index, path (a directory), archive}
                                           → {container}, with a socket that takes the tar, then
                                             answers one JSON line
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.engine.labels import Labelled
from orchestrator.engine.session_api import Handler, reply_with_socket
from runtime.container.runtime import ContainerRuntime


@dataclass(frozen=True)
class CopyRoutes:
    runtime: ContainerRuntime                       # the copy workers in a container's namespaces
    replica: Callable[[str, str, int], Labelled]    # Queries.service_replica: running or stopped

    def handle(self, handler: Handler, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
        """Serve the request if it is one of ours; False lets the caller answer 404."""
        match method, parts:
            case "POST", ["v1", "projects", name, "copy", "stat"]:
                body = handler.body()
                container = self.container(name, body)
                handler.reply(200, self.runtime.copy_stat(container.id, str(body["path"]),
                                                          bool(body.get("follow_link"))))
            case "POST", ["v1", "projects", name, "copy", "archive"]:
                body = handler.body()
                container = self.container(name, body)
                with self.runtime.copy_from(container.id, str(body["path"]), str(body["arcname"]),
                                            bool(body.get("follow_link"))) as sock:
                    reply_with_socket(handler, {"container": container.name}, sock)
            case "POST", ["v1", "projects", name, "copy", "extract"]:
                body = handler.body()
                container = self.container(name, body)
                with self.runtime.copy_into(container.id, str(body["path"]), bool(body.get("archive"))) as sock:
                    reply_with_socket(handler, {"container": container.name}, sock)
            case _:
                return False
        return True

    def container(self, project: str, body: dict[str, Any]) -> Labelled:
        return self.replica(project, str(body["service"]), int(body.get("index") or 1))
