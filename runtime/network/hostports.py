"""What the host itself holds: ports its processes listen on, and its ephemeral port range."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

LISTEN = "0A"  # TCP state in /proc/net/tcp* for a listening socket
DOCKER_FALLBACK_RANGE = (49153, 65535)
# sock_diag (linux/sock_diag.h, linux/inet_diag.h)
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_LISTEN = 10
_HEADER = struct.Struct("=IHHII")  # nlmsghdr


def listening_ports(protocol: str, proc_net: Path | None = None) -> set[int]:
    """Ports host processes listen on (TCP LISTEN sockets, or any bound UDP socket), v4 and v6.

    Asked with sock_diag: reading /proc/net/tcp walks the kernel's whole established-socket hash
    even when it is empty (~3 ms a file here), a LISTEN-only dump looks at listeners only. The
    /proc files are read when sock_diag is not there (``proc_net``: files to read instead).
    """
    if proc_net is None:
        try:
            return _diag_ports(protocol)
        except OSError:
            proc_net = Path("/proc/net")
    return _proc_ports(protocol, proc_net)


def _diag_ports(protocol: str) -> set[int]:
    """Local ports of the sockets sock_diag lists: TCP in LISTEN, UDP in any state."""
    return {port for port, _ in _diag_sockets(protocol, (socket.AF_INET, socket.AF_INET6))}


def bound_addresses() -> set[str]:
    """IPv4 addresses (not the wildcard, not loopback) that host sockets are bound to: TCP
    listeners and UDP sockets.

    Such an address may no longer be on any interface: a socket stays bound when its address goes
    (another instance's engine whose network was deleted under it keeps its DNS sockets on the
    old gateway). A network made on that subnet would find its gateway's port 53 taken, so the
    subnet choice skips these too. Empty when sock_diag is not there.
    """
    found: set[str] = set()
    try:
        for protocol in ("tcp", "udp"):
            for _, address in _diag_sockets(protocol, (socket.AF_INET,)):
                found.add(address)
    except OSError:
        return set()
    return {a for a in found if a != "0.0.0.0" and not a.startswith("127.")}


def _diag_sockets(protocol: str, families: tuple[int, ...]) -> list[tuple[int, str]]:
    """(local port, local address) of the sockets sock_diag lists: TCP in LISTEN, UDP in any state."""
    proto = socket.IPPROTO_TCP if protocol == "tcp" else socket.IPPROTO_UDP
    states = 1 << TCP_LISTEN if protocol == "tcp" else 0xFFFFFFFF
    found: list[tuple[int, str]] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG) as nl:
        for seq, family in enumerate(families, start=1):
            request = struct.pack("=BBBxI", family, proto, 0, states) + bytes(48)  # inet_diag_req_v2
            nl.send(_HEADER.pack(_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP,
                                 seq, 0) + request)
            while not _read_dump(nl, family, found):
                pass
    return found


def _read_dump(nl: socket.socket, family: int, found: list[tuple[int, str]]) -> bool:
    """Add (source port, source address) of one datagram of inet_diag_msg replies; True once the
    dump is done."""
    data = nl.recv(1 << 16)
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind = _HEADER.unpack_from(data, offset)[:2]
        if kind == NLMSG_DONE:
            return True
        if kind == NLMSG_ERROR:
            code = -struct.unpack_from("=i", data, offset + _HEADER.size)[0]
            if code:
                raise OSError(code, f"sock_diag: {os.strerror(code)}")
            return True
        # inet_diag_msg: family, state, timer, retrans (1 byte each), then the sockid: sport,
        # dport (be16 each), src (16 bytes, an IPv4 address in the first 4)
        body = offset + _HEADER.size
        port = struct.unpack_from("!H", data, body + 4)[0]
        size = 4 if family == socket.AF_INET else 16
        found.append((port, socket.inet_ntop(family, data[body + 8:body + 8 + size])))
        offset += (length + 3) & ~3
    return not data


def _proc_ports(protocol: str, proc_net: Path) -> set[int]:
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
