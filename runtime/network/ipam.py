"""Address management: subnets that avoid the host's routes, addresses never handed out twice.

State lives in one base file and a journal of changes per instance, changed under an exclusive
flock (pure functions here, the file handling in `state.py`).
"""

from __future__ import annotations

import ipaddress

from runtime.network.errors import NetworkError

DEFAULT_POOL = ipaddress.IPv4Network("10.89.0.0/16")
RESERVED = [ipaddress.IPv4Network("10.255.0.0/16"), ipaddress.IPv4Network("192.0.2.0/24")]


def pick_subnet(taken: list[ipaddress.IPv4Network], pool: ipaddress.IPv4Network = DEFAULT_POOL) -> str:
    """The first /24 of the pool that overlaps nothing taken (host routes, addresses, other networks)."""
    for candidate in pool.subnets(new_prefix=24):
        if not any(candidate.overlaps(t) for t in [*taken, *RESERVED]):
            return str(candidate)
    raise NetworkError(f"no free /24 left in {pool}")


def check_subnet(subnet: str, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(subnet, strict=True)
    except ValueError as exc:
        raise NetworkError(f"invalid subnet {subnet!r}: {exc}") from exc
    if not isinstance(net, ipaddress.IPv4Network):
        raise NetworkError(f"subnet {subnet}: only IPv4 is supported")
    clash = next((t for t in [*taken, *RESERVED] if net.overlaps(t)), None)
    if clash is not None:
        raise NetworkError(f"subnet {subnet} overlaps {clash}, which is in use on this host")
    return net


def default_gateway(subnet: str) -> str:
    return str(next(ipaddress.ip_network(subnet).hosts()))


def allocate(subnet: str, gateway: str, allocations: dict[str, str], last: str | None,
             wanted: str | None = None, ip_range: str | None = None) -> str:
    """An address not allocated yet; after ``last`` first, so freed addresses rest a while.

    Dynamic addresses come from ``ip_range`` when given (Compose's `ipam.config.ip_range`);
    an explicit ``wanted`` address may be anywhere in the subnet, as in Docker.
    """
    net = ipaddress.ip_network(subnet)
    if wanted is not None:
        address = ipaddress.ip_address(wanted)
        if address not in net or address in (net.network_address, net.broadcast_address):
            raise NetworkError(f"address {wanted} is not usable in {subnet}")
        if wanted == gateway or wanted in allocations:
            raise NetworkError(f"address {wanted} is already in use on {subnet}")
        return wanted
    # Integers, and only as far as the first free address: this runs for every container.
    pool = ipaddress.ip_network(ip_range) if ip_range else net
    low = max(int(pool.network_address), int(net.network_address) + 1)
    high = min(int(pool.broadcast_address), int(net.broadcast_address) - 1)
    if net.prefixlen >= 31:  # /31 and /32 have no network or broadcast address to skip
        low, high = int(pool.network_address), int(pool.broadcast_address)
    size = high - low + 1
    start = int(ipaddress.IPv4Address(last)) + 1 if last else low
    if not low <= start <= high:
        start = low
    for step in range(max(size, 0)):
        candidate = str(ipaddress.IPv4Address(low + (start - low + step) % size))
        if candidate != gateway and candidate not in allocations:
            return candidate
    raise NetworkError(f"no free address left in {subnet}")


def check_gateway(subnet: str, gateway: str) -> str:
    """An explicit gateway must be a host address of its subnet."""
    net = ipaddress.ip_network(subnet)
    try:
        address = ipaddress.ip_address(gateway)
    except ValueError as exc:
        raise NetworkError(f"gateway {gateway!r} is not an IP address") from exc
    if address not in net or address in (net.network_address, net.broadcast_address):
        raise NetworkError(f"gateway {gateway} is not a host address of {subnet}")
    return str(address)


def check_ip_range(subnet: str, ip_range: str) -> str:
    """`ip_range` must be a network inside the subnet (dynamic addresses are taken from it)."""
    try:
        pool = ipaddress.ip_network(ip_range, strict=True)
    except ValueError as exc:
        raise NetworkError(f"invalid ip_range {ip_range!r}: {exc}") from exc
    if not isinstance(pool, ipaddress.IPv4Network) or not pool.subnet_of(ipaddress.IPv4Network(subnet)):
        raise NetworkError(f"ip_range {ip_range} is not inside the subnet {subnet}")
    return str(pool)
