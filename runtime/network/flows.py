"""Connections still open to a backend, read from conntrack (used to drain a replica).

A replica removed from a published port's set gets no new connection, but the ones it already
has keep their NAT mapping until they close. Before such a replica is stopped, its owner waits
until conntrack shows none of them live any more (or a deadline passes).
"""

from __future__ import annotations

import socket
import time

from pyroute2 import Conntrack
from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

# TCP states in which the backend may still owe the client bytes (not TIME_WAIT/CLOSE).
_LIVE_TCP = {"SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK"}


def live_tcp_flows(backend_ip: str) -> int:
    """TCP connections whose reply comes from ``backend_ip`` and that are not finished."""
    count = 0
    with Conntrack() as ct:
        wanted = NFCTAttrTuple(proto=socket.IPPROTO_TCP, saddr=backend_ip)
        for entry in ct.dump_entries(tuple_reply=wanted):
            if entry.tuple_reply.saddr != backend_ip:
                continue
            state = entry.protoinfo.state_name() if entry.protoinfo is not None else "UNKNOWN"
            if state in _LIVE_TCP:
                count += 1
    return count


def wait_drained(backend_ip: str, timeout: float, poll: float = 0.05) -> int:
    """Wait until ``backend_ip`` has no live TCP flow or ``timeout`` passes; returns what is left."""
    deadline = time.monotonic() + timeout
    while True:
        left = live_tcp_flows(backend_ip)
        if left == 0 or time.monotonic() >= deadline:
            return left
        time.sleep(poll)
