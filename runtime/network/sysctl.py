"""Kernel settings the bridge and the container's interface need (as CNI and netavark set them)."""

from __future__ import annotations

from pathlib import Path


def write(path: str, value: str) -> None:
    """Set a /proc/sys value if it differs; absent settings (IPv6 disabled, …) are skipped."""
    try:
        target = Path(path)
        if target.read_text().strip() != value:
            target.write_text(value)
    except FileNotFoundError:
        pass


def tune_bridge(bridge: str) -> None:
    write("/proc/sys/net/ipv4/ip_forward", "1")
    # 127.0.0.1:<published port> is DNATed to a container: such packets must be routable out of the bridge
    write(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet", "1")
    write(f"/proc/sys/net/ipv4/conf/{bridge}/rp_filter", "2")  # strict mode breaks port forwarding
    write(f"/proc/sys/net/ipv6/conf/{bridge}/accept_ra", "0")  # we own the routes


def tune_bridge_port(host_ifname: str) -> None:
    # A container reaching its own published port is routed back out of the port it came from.
    write(f"/sys/class/net/{host_ifname}/brport/hairpin_mode", "1")


def tune_container_interface(ifname: str) -> None:
    """Run in a thread that entered the container's netns: /proc/sys/net follows the thread's netns."""
    write(f"/proc/sys/net/ipv4/conf/{ifname}/arp_notify", "1")  # announce the new address at once
    write(f"/proc/sys/net/ipv4/conf/{ifname}/rp_filter", "2")
