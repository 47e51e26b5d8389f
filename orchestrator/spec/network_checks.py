"""Addresses in a Compose file that cannot work, refused with file:line while loading.

Only what is wrong in any Compose implementation is checked here (malformed subnets, a gateway
or ip_range outside its subnet, an ipv4_address outside its network, a malformed host_ip, a
bridge `driver_opts` value Docker would refuse);
what pyorch merely does not support is refused by the engine's pre-flight instead, so that
`pyorch config` still renders every valid file.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from orchestrator.spec.errors import Location, SchemaError
from orchestrator.spec.model import Project
from orchestrator.spec.yamlsource import Path_

Locate = Callable[[Path_], Location]
Net = ipaddress.IPv4Network | ipaddress.IPv6Network

ENABLE_ICC = "com.docker.network.bridge.enable_icc"
DRIVER_MTU = "com.docker.network.driver.mtu"
# Go's strconv.ParseBool, which Docker's bridge driver parses enable_icc with.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
MIN_MTU, MAX_MTU = 68, 65535  # RFC 791's minimum datagram every IPv4 host takes; Docker refuses less too


@dataclass(frozen=True)
class BridgeOptions:
    """What a bridge network's `driver_opts` ask of pyorch (the options it applies)."""

    icc: bool = True
    mtu: int | None = None


class BadDriverOpt(ValueError):
    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def bridge_options(driver_opts: Mapping[str, str] | None) -> BridgeOptions:
    """Parse the options pyorch applies; others are left to the engine's pre-flight."""
    opts = dict(driver_opts or {})
    icc, mtu = True, None
    if ENABLE_ICC in opts:
        value = opts[ENABLE_ICC].strip()
        if value not in _TRUE | _FALSE:
            raise BadDriverOpt(ENABLE_ICC, f"{ENABLE_ICC} must be true or false, not {opts[ENABLE_ICC]!r}")
        icc = value in _TRUE
    if DRIVER_MTU in opts:
        try:
            mtu = int(opts[DRIVER_MTU].strip())
        except ValueError:
            raise BadDriverOpt(DRIVER_MTU, f"{DRIVER_MTU} must be an integer, not {opts[DRIVER_MTU]!r}") from None
        if not MIN_MTU <= mtu <= MAX_MTU:
            raise BadDriverOpt(DRIVER_MTU, f"{DRIVER_MTU} {mtu} is outside {MIN_MTU}-{MAX_MTU}")
    return BridgeOptions(icc, mtu)


def check_network_addresses(project: Project, locate: Locate) -> None:
    subnets: dict[str, Net] = {}
    for key, network in project.networks.items():
        try:
            if network.driver in (None, "bridge"):
                bridge_options(network.driver_opts)
        except BadDriverOpt as exc:
            raise SchemaError(f"network {key!r}: {exc}", locate(("networks", key, "driver_opts", exc.option))) from None
        for index, pool in enumerate(network.ipam.config or [] if network.ipam else []):
            here = ("networks", key, "ipam", "config", index)
            subnet = _network(pool.subnet, "subnet", locate((*here, "subnet"))) if pool.subnet else None
            if subnet is not None and index == 0:
                subnets[key] = subnet
            if pool.ip_range:
                pool_range = _network(pool.ip_range, "ip_range", locate((*here, "ip_range")))
                if subnet is not None and (pool_range.version != subnet.version
                                           or not pool_range.subnet_of(subnet)):  # type: ignore[arg-type]
                    raise SchemaError(f"network {key!r}: ip_range {pool.ip_range} is not inside {subnet}",
                                      locate((*here, "ip_range")))
            if pool.gateway:
                gateway = _address(pool.gateway, "gateway", locate((*here, "gateway")))
                if subnet is not None and gateway not in subnet:
                    raise SchemaError(f"network {key!r}: gateway {pool.gateway} is not inside {subnet}",
                                      locate((*here, "gateway")))
    for name, service in project.services.items():
        for key, cfg in (service.networks or {}).items():
            if cfg is None or not cfg.ipv4_address:
                continue
            where = locate(("services", name, "networks", key, "ipv4_address"))
            address = _address(cfg.ipv4_address, "ipv4_address", where)
            if address.version != 4:
                raise SchemaError(f"service {name!r}: ipv4_address {cfg.ipv4_address} is not IPv4", where)
            subnet = subnets.get(key)
            if subnet is not None and address not in subnet:
                raise SchemaError(f"service {name!r}: ipv4_address {cfg.ipv4_address} is not inside the subnet "
                                  f"{subnet} of network {key!r}", where)
        for index, port in enumerate(service.ports or []):
            if port.host_ip:
                _address(port.host_ip, "host_ip", locate(("services", name, "ports", index)))


def _network(text: str, what: str, where: Location) -> Net:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise SchemaError(f"invalid {what} {text!r}: {exc}", where) from None


def _address(text: str, what: str, where: Location) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise SchemaError(f"invalid {what} {text!r}: not an IP address", where) from None
