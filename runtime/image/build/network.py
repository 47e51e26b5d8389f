"""The build network: where RUN steps with the default network mode get an address and the internet.

Docker's builders give RUN network access by default (BuildKit: a network namespace of its own
with NAT through the host). pyorch does it with the machinery of a project's default network
(`runtime.network.NetworkManager`): a bridge ``pyorch-build`` with outbound NAT through the host,
each step's container on it with an address of its own, the host reachable at the gateway.

The network exists while builds use it: the first RUN step that needs it creates it, and a build
that ends removes it unless another build's step still holds an address on it (a concurrent
build that finds it gone while attaching makes it again). Nothing of it outlives the builds, so
`down`, the test suite's leak check and `system reset` find nothing left.

Names: a build step sees no services, so the engine's embedded resolver has nothing to add for
it; its /etc/resolv.conf names the resolvers the embedded one forwards to (`host_resolvers`: the
host's non-loopback nameservers, or ``PYORCH_DNS_FORWARD``), as Docker's builders copy the host's
resolv.conf without its loopback entries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from runtime.errors import RuntimeFailure
from runtime.network import NetworkManager
from runtime.network.dns import host_resolvers
from runtime.network.errors import NetworkError
from runtime.network.model import NetworkInfo, NetworkSpec

BUILD_NETWORK = "pyorch-build"
HOST_GATEWAY = "host-gateway"  # Docker's magic extra_hosts value: the address the host answers on
_LABELS = {"pyorch.build": "true"}
_ATTEMPTS = 3


class BuildNetwork:
    """The build network for one build; hand in the engine's `NetworkManager` or let it make one."""

    def __init__(self, manager: NetworkManager | Callable[[], NetworkManager],
                 alive: Callable[[str], bool]) -> None:
        self._manager = manager if isinstance(manager, NetworkManager) else None
        self._make = None if isinstance(manager, NetworkManager) else manager
        self._owned = self._manager is None
        self._alive = alive  # a container id still exists (its address must stay)
        self._lock = threading.Lock()
        self._used = False

    @property
    def manager(self) -> NetworkManager:
        with self._lock:
            if self._manager is None:
                assert self._make is not None
                self._manager = self._make()
            return self._manager

    def ensure(self) -> NetworkInfo:
        self._used = True
        try:
            return self.manager.ensure_network(NetworkSpec(BUILD_NETWORK, labels=dict(_LABELS)))
        except RuntimeFailure as exc:
            raise NetworkError(f"cannot make the build network: {exc}") from exc

    def attach(self, container_id: str, pid: int) -> None:
        """Give the step's container an address and a default route (from `create`'s ``on_pid``)."""
        for attempt in range(_ATTEMPTS):
            try:
                self.manager.connect(container_id, pid, BUILD_NETWORK)
                return
            except NetworkError as exc:
                if "does not exist" not in str(exc) or attempt == _ATTEMPTS - 1:
                    raise
                self.ensure()  # another build removed it between our ensure and connect

    def detach(self, container_id: str) -> None:
        """After the step's container is gone: free its address (its veth went with its netns)."""
        self.manager.release_addresses([(container_id, BUILD_NETWORK)])
        self.manager.await_veths_gone([(container_id, BUILD_NETWORK)])

    @staticmethod
    def resolvers() -> list[str]:
        return host_resolvers()

    def close(self) -> None:
        """At the end of a build: remove the network unless a live step of another build is on it."""
        if self._used:
            self.manager.remove_network_if_unused(BUILD_NETWORK, self._alive)
        if self._owned and self._manager is not None:
            self._manager.close()
