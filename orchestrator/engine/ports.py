"""A service's `ports:` as host bindings: fixed ports, ranges and random ports (persisted).

A published range with one container port (`8000-8010:80`) takes the first free port of the
range, and a port without a published one takes a random port of the ephemeral range, as Docker
does; both choices are stored per (project, service, index), so the port stays the same across
`up`, restarts and engine restarts. Every replica shares the binding: the kernel balances it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.engine.store import Store
from orchestrator.errors import EngineError
from orchestrator.spec import Service
from runtime.network import PortBinding

Allocate = Callable[[str, "tuple[int, int] | None"], int]


@dataclass(frozen=True)
class PublishedRange:
    low: int
    high: int

    @classmethod
    def parse(cls, published: str | int | None) -> PublishedRange | None:
        if published is None or str(published) == "":
            return None
        low, _, high = str(published).partition("-")
        return cls(int(low), int(high or low))

    @property
    def fixed(self) -> bool:
        return self.low == self.high


def tcp_targets(service: Service) -> tuple[int, ...]:
    """The container ports of the service's published TCP ports (what a drain waits on)."""
    return tuple(sorted({p.target for p in service.ports or [] if p.protocol == "tcp"}))


def port_key(project: str, service: str) -> str:
    """The network manager's key for one service's published ports."""
    return f"{project}/{service}"


def service_bindings(store: Store, allocate: Allocate | None, project: str, service: Service) -> list[PortBinding]:
    """The service's bindings; ports still to be chosen are chosen (and stored) when ``allocate``
    is given, and left out otherwise (the pre-flight check cannot know them yet)."""
    bindings: list[PortBinding] = []
    for index, port in enumerate(service.ports or []):
        protocol = port.protocol or "tcp"
        wanted = PublishedRange.parse(port.published)
        if wanted is not None and wanted.low > wanted.high:
            raise EngineError(f"service {service.name!r}: published range {port.published} is reversed")
        if wanted is not None and wanted.fixed:
            host_port = wanted.low
        else:
            stored = store.host_port(project, service.name, index)
            if stored is not None and wanted is not None and not wanted.low <= stored <= wanted.high:
                stored = None  # the range changed: choose again
            if stored is None:
                if allocate is None:
                    continue
                stored = allocate(protocol, (wanted.low, wanted.high) if wanted else None)
                store.set_host_port(project, service.name, index, stored)
            host_port = stored
        bindings.append(PortBinding(host_ip=port.host_ip or None, host_port=host_port,
                                    container_port=int(port.target), protocol=protocol))
    return bindings


def find_binding(bindings: list[PortBinding], service: str, private_port: int, protocol: str) -> PortBinding:
    """`pyorch port SERVICE PRIVATE_PORT`: the binding of that container port."""
    for b in bindings:
        if b.container_port == private_port and b.protocol == protocol:
            return b
    raise EngineError(f"service {service!r} publishes no {protocol} port {private_port}")


def address_of(binding: PortBinding) -> str:
    return f"{binding.host_ip or '0.0.0.0'}:{binding.host_port}"
