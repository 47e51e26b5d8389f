"""Forget UDP flows a published port's new rules must decide afresh.

NAT is decided on a flow's first packet and kept in conntrack. A UDP client that sent before any
backend was ready, or whose flow was balanced to a replica that left, would keep its old fate
until the entry times out (30–120 s), so after a change those entries are deleted — what CNI's
portmap does. TCP is left alone: an established connection must finish where it started.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from runtime.network.pyroute2_parts import Conntrack, NetlinkError, NFCTAttrTuple


def forget_udp_flows(host_ports: Iterable[int], backends: Iterable[str]) -> int:
    """Delete UDP entries to these host ports whose reply does not come from a current backend."""
    keep = set(backends)
    removed = 0
    with Conntrack() as ct:
        for port in set(host_ports):
            wanted = NFCTAttrTuple(proto=socket.IPPROTO_UDP, dport=port)
            for entry in list(ct.dump_entries(tuple_orig=wanted)):
                if entry.tuple_orig.dport != port or entry.tuple_reply.saddr in keep:
                    continue
                try:
                    ct.delete(entry)
                    removed += 1
                except NetlinkError:
                    pass  # expired meanwhile
    return removed
