"""The MTU a new network gets when Compose does not give one (`com.docker.network.driver.mtu`).

The MTU of the interface that carries the host's IPv4 default route, as netavark chooses it;
1500 (Docker's default) when the host has no default route. Why not always 1500, as Docker: on
a host whose uplink is smaller (a cloud VM at 1460, a VPN, this project's VMs at 1400), a
container at 1500 advertises a TCP MSS of 1460, so peers outside send segments that do not fit
the uplink and depend on ICMP "fragmentation needed" reaching them (a black hole wherever that
is filtered), and UDP protocols that size datagrams from the local MTU (QUIC, DNS, VPNs) lose
them. Bulk transfers between containers of one host lose 2-6 % at the smaller size
(bench/bench_c2c.py; veths pass GSO segments).
"""

from __future__ import annotations

from runtime.features import default_route_uplink

FALLBACK_MTU = 1500


def default_mtu() -> int:
    uplink = default_route_uplink()
    return uplink.mtu if uplink is not None else FALLBACK_MTU
