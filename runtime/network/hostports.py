"""What the host itself holds: ports its processes listen on, and its ephemeral port range."""

from __future__ import annotations

from pathlib import Path

LISTEN = "0A"  # TCP state in /proc/net/tcp* for a listening socket
DOCKER_FALLBACK_RANGE = (49153, 65535)


def listening_ports(protocol: str, proc_net: Path = Path("/proc/net")) -> set[int]:
    """Ports host processes listen on (TCP LISTEN sockets, or any bound UDP socket), v4 and v6."""
    ports: set[int] = set()
    for name in (protocol, protocol + "6"):
        try:
            lines = (proc_net / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and (protocol == "udp" or fields[3] == LISTEN):
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def ephemeral_range(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> tuple[int, int]:
    """The kernel's ephemeral range, as Docker picks ports for `-p CONTAINER_PORT`."""
    try:
        low, high = (int(x) for x in path.read_text().split())
    except (OSError, ValueError):
        return DOCKER_FALLBACK_RANGE
    return low, high
