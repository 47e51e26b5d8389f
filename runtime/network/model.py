"""Plain data the network manager takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None      # dynamic addresses only from here (inside the subnet)
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    mtu: int | None = None           # None: the MTU of the host's default-route interface
    icc: bool = True                 # containers of the network reach each other directly


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    bridge: str
    subnet: str
    gateway: str
    internal: bool = False
    ip_range: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    mtu: int | None = None           # of the bridge and every veth; None: the kernel's (older networks)
    icc: bool = True


@dataclass(frozen=True)
class Attachment:
    ip: str
    mac: str
    ifname: str
    host_ifname: str
    gateway: str
    network: str


@dataclass(frozen=True)
class PortBinding:
    host_ip: str | None
    host_port: int
    container_port: int
    protocol: str = "tcp"
