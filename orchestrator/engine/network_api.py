"""The engine's network routes: `pyorch port` and the list of networks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from orchestrator.engine.labels import Labelled
from orchestrator.engine.ports import address_of, find_binding, service_bindings
from orchestrator.engine.projects import ProjectLoader
from orchestrator.engine.store import Store
from orchestrator.errors import EngineError, NoSuchService
from runtime.network import NetworkInfo


class Handler(Protocol):
    """What this module needs of the API's request handler."""

    def reply(self, status: int, payload: Any) -> None: ...


@dataclass(frozen=True)
class NetworkRoutes:
    store: Store                                            # the ports chosen for `port: 0` bindings
    loader: ProjectLoader
    networks: Callable[[], list[NetworkInfo]]
    running_replica: Callable[[str, str, int], Labelled]    # Queries.service_container

    def handle(self, handler: Handler, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
        """Serve the request if it is one of ours; False lets the caller answer 404."""
        match method, parts:
            case "GET", ["v1", "projects", name, "port"]:
                handler.reply(200, self.port_of(name, query))
            case "GET", ["v1", "networks"]:
                handler.reply(200, [asdict(n) for n in self.networks()])
            case _:
                return False
        return True

    def port_of(self, project: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """The host address of a service's private port; every replica shares it (kernel balanced),
        so `index` only has to name a running replica, as in `docker compose port --index`."""
        service = query.get("service", [""])[0]
        protocol = query.get("protocol", ["tcp"])[0]
        try:
            private = int(query.get("port", [""])[0])
            index = int(query.get("index", ["1"])[0])
        except ValueError as exc:
            raise EngineError("port and index must be numbers") from exc
        loaded = self.loader.load(project)
        if loaded is None:
            raise EngineError(f"project {project!r} is not up")
        NoSuchService.refuse_unknown(loaded.project.services, [service])
        self.running_replica(project, service, index)  # raises when that replica is not running
        binding = find_binding(service_bindings(self.store, None, project, loaded.project.services[service]),
                               service, private, protocol)
        return {"address": address_of(binding), "host_ip": binding.host_ip or "0.0.0.0",
                "host_port": binding.host_port, "protocol": binding.protocol}
