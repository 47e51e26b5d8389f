"""Service discovery: an embedded DNS server, one UDP socket per network on its gateway address.

A container's /etc/resolv.conf names its first network's gateway; the server answers from that
network's table only (so names of other networks are invisible), rotating the addresses of a
name with several replicas (round robin), and forwards other names to the host's resolvers
(never for `internal` networks). Tables are replaced whole by the engine after every change, so
an answer never mixes two states. Why a server and not managed hosts files: docs/networking.md.

Packets are parsed and built with dnslib (see docs/dependencies.md).
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dnslib import QTYPE, RCODE, RR, A, DNSError, DNSRecord

log = logging.getLogger("pyorch.dns")
TTL = 0          # answers change as replicas come and go: resolvers must ask again
FORWARD_TIMEOUT_S = 2.0


@dataclass
class _Network:
    gateway: str
    forward: bool
    sock: socket.socket
    records: dict[str, list[str]] = field(default_factory=dict)
    turn: dict[str, int] = field(default_factory=dict)


def host_resolvers(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[str]:
    """Where other names go: `PYORCH_DNS_FORWARD` (comma list, or `none`), else the host's
    nameservers that a container can reach (loopback ones are the host's own)."""
    configured = os.environ.get("PYORCH_DNS_FORWARD")
    if configured is not None:
        return [] if configured.strip() in ("", "none") else [s.strip() for s in configured.split(",") if s.strip()]
    try:
        lines = resolv_conf.read_text().splitlines()
    except OSError:
        return []
    servers = [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]
    return [s for s in servers if not s.startswith("127.") and s != "::1"]


class DnsServer:
    """Answers names per network; `set_network`/`set_records`/`remove_network` are thread-safe."""

    def __init__(self, upstreams: list[str] | None = None) -> None:
        self.upstreams = host_resolvers() if upstreams is None else upstreams
        self._networks: dict[str, _Network] = {}
        self._views: dict[str, list[str]] = {}  # client address -> networks it sees, in priority order
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="pyorch-dns", daemon=True)
        self._thread.start()

    # --- tables -------------------------------------------------------------------------------------
    def set_network(self, name: str, gateway: str, forward: bool = True) -> None:
        """Listen on the network's gateway address (idempotent; a new gateway rebinds)."""
        with self._lock:
            current = self._networks.get(name)
            if current is not None and current.gateway == gateway:
                current.forward = forward
                return
            if current is not None:
                self._close(name)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((gateway, 53))
            sock.setblocking(False)
            self._networks[name] = _Network(gateway, forward, sock)
            self._selector.register(sock, selectors.EVENT_READ, name)
        self._wake_w.send(b"x")

    def set_records(self, name: str, records: Mapping[str, Iterable[str]]) -> None:
        """Replace the network's table: lowercase name -> addresses."""
        table = {k.lower().rstrip("."): sorted(set(v)) for k, v in records.items() if v}
        with self._lock:
            network = self._networks.get(name)
            if network is not None:
                network.records = table

    def set_views(self, views: Mapping[str, list[str]]) -> None:
        """Which networks' names each container sees: all the networks it is attached to, like
        Docker's embedded DNS (the first network that knows a name answers)."""
        with self._lock:
            self._views = {ip: list(nets) for ip, nets in views.items()}

    def remove_network(self, name: str) -> None:
        with self._lock:
            self._close(name)

    def networks(self) -> list[str]:
        with self._lock:
            return sorted(self._networks)

    def close(self) -> None:
        self._stopping = True
        self._wake_w.send(b"x")
        self._thread.join(timeout=2)
        with self._lock:
            for name in list(self._networks):
                self._close(name)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _close(self, name: str) -> None:
        network = self._networks.pop(name, None)
        if network is not None:
            try:
                self._selector.unregister(network.sock)
            except (KeyError, ValueError):
                pass
            network.sock.close()

    # --- serving ------------------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stopping:
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    self._wake_r.recv(64)
                    continue
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    packet, client = sock.recvfrom(4096)
                except OSError:
                    continue
                self._answer(str(key.data), sock, packet, client)

    def _answer(self, network_name: str, sock: socket.socket, packet: bytes, client: tuple[str, int]) -> None:
        try:
            query = DNSRecord.parse(packet)
        except (DNSError, IndexError, ValueError):
            return  # not DNS: nothing to say
        with self._lock:
            network = self._networks.get(network_name)
            if network is None or not query.questions:
                return
            qname = str(query.q.qname).lower().rstrip(".")
            addresses = self._lookup(qname, network_name, client[0])
            forward = network.forward and bool(self.upstreams)
        reply = query.reply()
        if addresses is not None:
            if query.q.qtype in (QTYPE.A, QTYPE.ANY):
                for ip in addresses:
                    reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(ip), ttl=TTL))
            # AAAA and the rest: "no data" (NOERROR, empty), so clients do not look elsewhere.
            self._send(sock, reply.pack(), client)
            return
        if forward:
            threading.Thread(target=self._forward, args=(sock, packet, client, query), daemon=True).start()
            return
        reply.header.rcode = RCODE.NXDOMAIN
        self._send(sock, reply.pack(), client)

    def _lookup(self, qname: str, arrival: str, client_ip: str) -> list[str] | None:
        """The first of the client's networks that knows the name answers, rotated (round robin)."""
        for seen in self._views.get(client_ip, [arrival]):
            network = self._networks.get(seen)
            addresses = network.records.get(qname) if network is not None else None
            if network is not None and addresses:
                turn = network.turn.get(qname, 0) % len(addresses)
                network.turn[qname] = turn + 1
                return addresses[turn:] + addresses[:turn]
        return None

    def _forward(self, sock: socket.socket, packet: bytes, client: tuple[str, int], query: DNSRecord) -> None:
        for upstream in self.upstreams:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
                    out.settimeout(FORWARD_TIMEOUT_S)
                    out.sendto(packet, (upstream, 53))
                    answer, _ = out.recvfrom(65535)
                self._send(sock, answer, client)
                return
            except OSError:
                continue
        reply = query.reply()
        reply.header.rcode = RCODE.SERVFAIL
        self._send(sock, reply.pack(), client)

    @staticmethod
    def _send(sock: socket.socket, data: bytes, client: tuple[str, int]) -> None:
        try:
            sock.sendto(data, client)
        except OSError as exc:
            log.debug("dns reply to %s: %s", client, exc)


__all__ = ["DnsServer", "host_resolvers"]
