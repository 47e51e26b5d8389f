"""Docker's `host-gateway` in `extra_hosts`: the host's address as a container sees it (pure)."""

from __future__ import annotations

from collections.abc import Mapping

HOST_GATEWAY = "host-gateway"  # Docker's special extra_hosts value


def with_host_gateway(extra_hosts: Mapping[str, str], host: str | None) -> dict[str, str]:
    """`extra_hosts` with Docker's `host-gateway` replaced by ``host``, the host's address as the
    container sees it: its first network's gateway (the host's own address on that bridge, which
    Docker's host-gateway also is: the default bridge's), 127.0.0.1 with `network_mode: host`.
    Without one (`network_mode: none`) such entries are left out: nothing could reach them."""
    if host is None:
        return {name: address for name, address in extra_hosts.items() if address != HOST_GATEWAY}
    return {name: host if address == HOST_GATEWAY else address for name, address in extra_hosts.items()}
