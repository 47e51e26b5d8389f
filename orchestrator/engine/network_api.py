"""The engine's network routes: `pyorch port` and the list of networks."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol

from orchestrator.engine.engine import Engine
from orchestrator.engine.ports import address_of, find_binding, service_bindings
from orchestrator.errors import EngineError


class Handler(Protocol):
    """What this module needs of the API's request handler."""

    def reply(self, status: int, payload: Any) -> None: ...


def handle(handler: Handler, engine: Engine, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
    """Serve the request if it is one of ours; False lets the caller answer 404."""
    match method, parts:
        case "GET", ["v1", "projects", name, "port"]:
            handler.reply(200, port_of(engine, name, query))
        case "GET", ["v1", "networks"]:
            handler.reply(200, [asdict(n) for n in engine.network.list_networks()])
        case _:
            return False
    return True


def port_of(engine: Engine, project: str, query: dict[str, list[str]]) -> dict[str, Any]:
    """The host address of a service's private port; every replica shares it (kernel balanced),
    so `index` only has to name a running replica, as in `docker compose port --index`."""
    service = query.get("service", [""])[0]
    protocol = query.get("protocol", ["tcp"])[0]
    try:
        private = int(query.get("port", [""])[0])
        index = int(query.get("index", ["1"])[0])
    except ValueError as exc:
        raise EngineError("port and index must be numbers") from exc
    loaded = engine.loader.load(project)
    if loaded is None:
        raise EngineError(f"project {project!r} is not up")
    if service not in loaded.project.services:
        raise EngineError(f"no such service: {service!r}")
    engine.queries.service_container(project, service, index)  # raises when that replica is not running
    binding = find_binding(service_bindings(engine.store, None, project, loaded.project.services[service]),
                           service, private, protocol)
    return {"address": address_of(binding), "host_ip": binding.host_ip or "0.0.0.0",
            "host_port": binding.host_port, "protocol": binding.protocol}
