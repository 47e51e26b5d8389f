"""Connections still open to a backend (used to drain a replica before it is stopped).

A replica removed from a published port's set gets no new connection, but the ones it already
has keep their NAT mapping until they close: conntrack shows them. Connections made by name,
container to container, are switched inside the bridge and reach the host's conntrack only with
bridge netfilter on, so the replica's own sockets are read too (its network namespace's
/proc/<pid>/net/tcp): what clients have open to one of its listening ports, whichever way they
came. Before stopping, its owner waits until both show nothing live (or a deadline passes).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Collection
from pathlib import Path

from runtime.network.pyroute2_parts import Conntrack, NFCTAttrTuple

# TCP states in which the backend may still owe the client bytes (not TIME_WAIT/CLOSE).
_LIVE_TCP = {"SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK"}
# The same in /proc/net/tcp's hex codes (include/net/tcp_states.h): ESTABLISHED, SYN_RECV,
# FIN_WAIT1, CLOSE_WAIT, LAST_ACK, CLOSING; and LISTEN.
_LIVE_SOCKET = {"01", "03", "04", "08", "09", "0B"}
_LISTEN = "0A"
# (backend address, timeout, ports) -> connections left: `wait_drained`, or a test's stand-in.
Drained = Callable[[str, float, Collection[int]], int]


def live_tcp_flows(backend_ip: str, ports: Collection[int] = ()) -> int:
    """TCP connections whose reply comes from ``backend_ip`` (from one of ``ports`` when given)
    and that are not finished. The ports matter: an address is reused by later containers, and
    conntrack keeps an ESTABLISHED entry whose end it never saw for days (one of a network that
    was deleted meanwhile, say), which would hold every drain of that address to its deadline."""
    count = 0
    with Conntrack() as ct:
        wanted = NFCTAttrTuple(proto=socket.IPPROTO_TCP, saddr=backend_ip)
        for entry in ct.dump_entries(tuple_reply=wanted):
            if entry.tuple_reply.saddr != backend_ip or (ports and entry.tuple_reply.sport not in ports):
                continue
            state = entry.protoinfo.state_name() if entry.protoinfo is not None else "UNKNOWN"
            if state in _LIVE_TCP:
                count += 1
    return count


def wait_drained(backend_ip: str, timeout: float, ports: Collection[int] = (), poll: float = 0.05) -> int:
    """Wait until ``backend_ip`` has no live TCP flow (from ``ports``) or ``timeout`` passes;
    returns what is left."""
    deadline = time.monotonic() + timeout
    while True:
        left = live_tcp_flows(backend_ip, ports)
        if left == 0 or time.monotonic() >= deadline:
            return left
        time.sleep(poll)


def inbound_connections(pid: int) -> int:
    """Connections to a listening port of the network namespace of ``pid`` that may still carry
    bytes. Its own outgoing ones (to a database, say) are not counted: they are not its clients'."""
    sockets: list[tuple[str, str]] = []
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue  # gone (nothing left to drain), or no IPv6
        for line in lines:
            fields = line.split()
            if len(fields) > 3:
                sockets.append((fields[1].rsplit(":", 1)[-1], fields[3]))  # local port, state
    listening = {port for port, state in sockets if state == _LISTEN}
    return sum(1 for port, state in sockets if state in _LIVE_SOCKET and port in listening)


def wait_inbound_drained(pid: int, timeout: float, grace: float = 0.0, poll: float = 0.05) -> int:
    """Wait ``grace`` first — a client that resolved the replica's name just before it left DNS
    connects meanwhile — then until no inbound connection is left; ``timeout`` bounds the whole
    wait. Returns what is left; a replica whose process is gone has nothing left to drain."""
    if pid <= 0 or not Path(f"/proc/{pid}").exists():
        return 0
    deadline = time.monotonic() + timeout
    time.sleep(max(0.0, min(grace, timeout)))
    while True:
        left = inbound_connections(pid)
        if left == 0 or time.monotonic() >= deadline:
            return left
        time.sleep(poll)
