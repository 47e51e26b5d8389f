"""Service discovery: an embedded DNS server on each network's gateway address, UDP and TCP port 53.

A container's /etc/resolv.conf names its first network's gateway; the server answers from that
network's table only (so names of other networks are invisible), rotating the addresses of a
name with several replicas (round robin), and forwards other names to the host's resolvers
(never for `internal` networks). Tables are replaced whole by the engine after every change, so
an answer never mixes two states. Why a server and not managed hosts files: docs/networking.md.

UDP answers that do not fit the client's size (512 bytes, or what its EDNS0 record offers) keep
their question and the records that fit and carry the TC bit (RFC 1035 §4.2.1, RFC 6891), so a
resolver asks again over TCP, where the whole answer goes (RFC 7766). Queries that arrive over
TCP are forwarded over TCP.

Packets are parsed and built with dnslib (see docs/dependencies.md).
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import struct
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dnslib import EDNS0, QTYPE, RCODE, RR, A, DNSError, DNSRecord

log = logging.getLogger("pyorch.dns")
TTL = 0                      # answers change as replicas come and go: resolvers must ask again
FORWARD_TIMEOUT_S = 2.0
UDP_MIN = 512                # RFC 1035: what every client takes over UDP
UDP_MAX = 4096               # the most we send over UDP whatever a client's EDNS0 offers
TCP_IDLE_S = 10.0            # a TCP client that sends nothing for this long is closed (RFC 7766 §6.2.3)
TCP_CLIENTS = 64             # connections served at once; more are closed at once


@dataclass
class _Network:
    gateway: str
    forward: bool
    udp: socket.socket
    tcp: socket.socket | None  # None: the port is taken for TCP on this address (UDP still answers)
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


def udp_limit(query: DNSRecord) -> int:
    """The largest UDP answer the client takes: 512, or its EDNS0 payload size (capped)."""
    for rr in query.ar:
        if rr.rtype == QTYPE.OPT:
            return max(UDP_MIN, min(int(rr.rclass), UDP_MAX))
    return UDP_MIN


def fitted(reply: DNSRecord, limit: int) -> bytes:
    """The reply packed within ``limit`` bytes: whole if it fits, else with the header, the
    question and as many answers as fit, and TC set (what a resolver retries over TCP)."""
    packed = reply.pack()
    if len(packed) <= limit:
        return bytes(packed)
    reply.header.tc = 1
    reply.auth = []
    while reply.rr:
        reply.rr.pop()
        packed = reply.pack()
        if len(packed) <= limit:
            return bytes(packed)
    return bytes(reply.pack())


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _bound(kind: socket.SocketKind, address: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, 53))
        sock.setblocking(False)
        if kind == socket.SOCK_STREAM:
            sock.listen(16)
    except OSError:
        sock.close()
        raise
    return sock


def _framed(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


class DnsServer:
    """Answers names per network; `set_network`/`set_records`/`remove_network` are thread-safe."""

    def __init__(self, upstreams: list[str] | None = None) -> None:
        self.upstreams = host_resolvers() if upstreams is None else upstreams
        self._networks: dict[str, _Network] = {}
        self._views: dict[str, list[str]] = {}  # client address -> networks it sees, in priority order
        self._lock = threading.Lock()
        self._clients = threading.BoundedSemaphore(TCP_CLIENTS)
        self._connections: set[socket.socket] = set()
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
                if current.tcp is None:  # taken when it was bound: maybe free by now
                    current.tcp = self._listen_tcp(name, gateway, quiet=True)
                    if current.tcp is not None:
                        log.info("DNS over TCP on %s: listening now", gateway)
                        self._wake_w.send(b"x")
                return
            if current is not None:
                self._close(name)
            udp = _bound(socket.SOCK_DGRAM, gateway)
            self._networks[name] = _Network(gateway, forward, udp, self._listen_tcp(name, gateway))
            self._selector.register(udp, selectors.EVENT_READ, ("udp", name))
        self._wake_w.send(b"x")

    def _listen_tcp(self, name: str, gateway: str, quiet: bool = False) -> socket.socket | None:
        """The network's TCP listener, or None when another socket holds the port on that address
        (another instance's DNS still bound to an address that went: every TCP query of this
        network would reach it). Every rebuild tries again, so it heals once that socket goes."""
        try:
            tcp = _bound(socket.SOCK_STREAM, gateway)
        except OSError as exc:
            if not quiet:
                log.warning("DNS over TCP on %s: %s (UDP only until the port is free)", gateway, exc)
            return None
        self._selector.register(tcp, selectors.EVENT_READ, ("tcp", name))
        return tcp

    def set_records(self, name: str, records: Mapping[str, Iterable[str]]) -> None:
        """Replace the network's table: lowercase name -> addresses."""
        table = {k.lower().rstrip("."): sorted(set(v)) for k, v in records.items() if v}
        with self._lock:
            network = self._networks.get(name)
            if network is not None:
                network.records = table

    def add(self, records: Mapping[str, Mapping[str, Iterable[str]]], views: Mapping[str, list[str]]) -> bool:
        """Add one container's names (network -> name -> addresses) and views to the tables, at
        once and without a rebuild; False, and nothing changed, when a network is not served yet."""
        with self._lock:
            if any(name not in self._networks for name in records):
                return False
            for name, table in records.items():
                network = self._networks[name]
                merged = dict(network.records)
                for key, ips in table.items():
                    key = key.lower().rstrip(".")
                    merged[key] = sorted({*merged.get(key, ()), *ips})
                network.records = {k: v for k, v in merged.items() if v}
            self._views = {**self._views, **{ip: list(nets) for ip, nets in views.items()}}
        return True

    def forget(self, addresses: Iterable[str]) -> None:
        """Answer no name with these addresses any more (a container about to stop), at once and
        without a rebuild; the next `set_records` decides again."""
        gone = set(addresses)
        with self._lock:
            for network in self._networks.values():
                kept = {name: [ip for ip in ips if ip not in gone] for name, ips in network.records.items()}
                network.records = {name: ips for name, ips in kept.items() if ips}

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
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _close(self, name: str) -> None:
        network = self._networks.pop(name, None)
        if network is not None:
            for sock in (network.udp, network.tcp):
                if sock is None:
                    continue
                try:
                    self._selector.unregister(sock)
                except (KeyError, ValueError):
                    pass
                sock.close()

    # --- serving ------------------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stopping:
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    self._wake_r.recv(64)
                    continue
                transport, network_name = key.data
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if transport == "tcp":
                    self._accept(network_name, sock)
                    continue
                try:
                    packet, client = sock.recvfrom(4096)
                except OSError:
                    continue
                self._answer_udp(network_name, sock, packet, client)

    def _resolve(self, network_name: str, packet: bytes, client_ip: str,
                 ) -> tuple[DNSRecord | None, DNSRecord | None]:
        """(the query, a local answer); no answer: forward the query; no query: say nothing."""
        try:
            query = DNSRecord.parse(packet)
        except (DNSError, IndexError, ValueError):
            return None, None  # not DNS: nothing to say
        with self._lock:
            network = self._networks.get(network_name)
            if network is None or not query.questions:
                return None, None
            qname = str(query.q.qname).lower().rstrip(".")
            addresses = self._lookup(qname, network_name, client_ip)
            forward = network.forward and bool(self.upstreams)
        reply = query.reply()
        if any(rr.rtype == QTYPE.OPT for rr in query.ar):
            reply.add_ar(EDNS0(udp_len=UDP_MAX))
        if addresses is not None:
            if query.q.qtype in (QTYPE.A, QTYPE.ANY):
                for ip in addresses:
                    reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(ip), ttl=TTL))
            # AAAA and the rest: "no data" (NOERROR, empty), so clients do not look elsewhere.
            return query, reply
        if forward:
            return query, None
        reply.header.rcode = RCODE.NXDOMAIN
        return query, reply

    def _answer_udp(self, network_name: str, sock: socket.socket, packet: bytes, client: tuple[str, int]) -> None:
        query, reply = self._resolve(network_name, packet, client[0])
        if query is None:
            return
        if reply is not None:
            self._send(sock, fitted(reply, udp_limit(query)), client)
            return
        threading.Thread(target=self._forward_udp, args=(sock, packet, client, query), daemon=True).start()

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

    def _forward_udp(self, sock: socket.socket, packet: bytes, client: tuple[str, int], query: DNSRecord) -> None:
        for upstream in self.upstreams:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
                    out.settimeout(FORWARD_TIMEOUT_S)
                    out.sendto(packet, (upstream, 53))
                    answer, _ = out.recvfrom(65535)
                self._send(sock, answer, client)  # sized by the upstream for the client's own query
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

    # --- TCP ----------------------------------------------------------------------------------------
    def _accept(self, network_name: str, listener: socket.socket) -> None:
        try:
            conn, client = listener.accept()
        except OSError:
            return
        if not self._clients.acquire(blocking=False):
            conn.close()  # too many at once: the client retries (over UDP or later)
            return
        with self._lock:
            self._connections.add(conn)
        threading.Thread(target=self._serve_tcp, args=(network_name, conn, client[0]), daemon=True,
                         name="pyorch-dns-tcp").start()

    def _serve_tcp(self, network_name: str, conn: socket.socket, client_ip: str) -> None:
        """Queries on one connection, answered in order, until the client closes or idles."""
        try:
            conn.setblocking(True)
            conn.settimeout(TCP_IDLE_S)
            while not self._stopping:
                header = _read_exactly(conn, 2)
                packet = _read_exactly(conn, struct.unpack("!H", header)[0]) if header else None
                if not packet:
                    return
                query, reply = self._resolve(network_name, packet, client_ip)
                if query is None:
                    return
                answer = reply.pack() if reply is not None else self._forward_tcp(packet, query)
                conn.sendall(_framed(bytes(answer)))
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()
            self._clients.release()

    def _forward_tcp(self, packet: bytes, query: DNSRecord) -> bytes:
        for upstream in self.upstreams:
            try:
                with socket.create_connection((upstream, 53), timeout=FORWARD_TIMEOUT_S) as out:
                    out.sendall(_framed(packet))
                    header = _read_exactly(out, 2)
                    answer = _read_exactly(out, struct.unpack("!H", header)[0]) if header else None
                if answer:
                    return answer
            except OSError:
                continue
        reply = query.reply()
        reply.header.rcode = RCODE.SERVFAIL
        return bytes(reply.pack())


__all__ = ["DnsServer", "fitted", "host_resolvers", "udp_limit"]
