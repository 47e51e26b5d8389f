"""The embedded DNS server over UDP and TCP: truncation with the TC bit, full answers over TCP,
several queries on one connection, forwarding over TCP. On loopback addresses only (port 53
needs root); the "upstream" is a server this test runs."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import EDNS0, QTYPE, RR, A, DNSRecord

from runtime.network.dns import DnsServer

pytestmark = pytest.mark.root

GATEWAY = "127.0.0.153"
UPSTREAM = "127.0.0.154"
MANY = [f"10.89.{i // 250}.{i % 250 + 2}" for i in range(100)]


@pytest.fixture
def server() -> Iterator[DnsServer]:
    dns = DnsServer(upstreams=[UPSTREAM])
    dns.set_network("net", GATEWAY)
    dns.set_records("net", {"many": MANY, "one": ["10.89.0.2"]})
    try:
        yield dns
    finally:
        dns.close()


def udp(query: DNSRecord) -> tuple[bytes, DNSRecord]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(query.pack(), (GATEWAY, 53))
        data = s.recv(65535)
    return data, DNSRecord.parse(data)


def tcp(*queries: DNSRecord, host: str = GATEWAY) -> list[DNSRecord]:
    answers = []
    with socket.create_connection((host, 53), timeout=5) as s:
        s.sendall(b"".join(struct.pack("!H", len(q.pack())) + q.pack() for q in queries))
        reader = s.makefile("rb")
        for _ in queries:
            size = struct.unpack("!H", reader.read(2))[0]
            answers.append(DNSRecord.parse(reader.read(size)))
    return answers


def addresses(reply: DNSRecord) -> set[str]:
    return {str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A}


def test_a_large_udp_answer_is_truncated_with_its_question_and_the_tc_bit(server: DnsServer) -> None:
    data, reply = udp(DNSRecord.question("many"))
    assert len(data) <= 512 and reply.header.tc == 1
    assert str(reply.q.qname) == "many." and reply.header.id  # the question stays: resolvers match it
    assert 0 < len(reply.rr) < 100 and addresses(reply) <= set(MANY)
    _, small = udp(DNSRecord.question("one"))
    assert small.header.tc == 0 and addresses(small) == {"10.89.0.2"}


def test_edns_raises_the_udp_limit(server: DnsServer) -> None:
    query = DNSRecord.question("many")
    query.add_ar(EDNS0(udp_len=4096))
    data, reply = udp(query)
    assert reply.header.tc == 0 and addresses(reply) == set(MANY) and 512 < len(data) <= 4096
    assert any(rr.rtype == QTYPE.OPT for rr in reply.ar)


def test_tcp_gives_the_whole_answer_and_serves_several_queries_per_connection(server: DnsServer) -> None:
    many, one, missing = tcp(DNSRecord.question("many"), DNSRecord.question("ONE"),
                             DNSRecord.question("nope.example"))
    assert many.header.tc == 0 and addresses(many) == set(MANY)
    assert addresses(one) == {"10.89.0.2"}
    assert missing.header.rcode == 2  # SERVFAIL: the upstream is not running yet


def test_other_names_are_forwarded_over_tcp(server: DnsServer) -> None:
    with socket.socket() as upstream:
        upstream.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        upstream.bind((UPSTREAM, 53))
        upstream.listen(1)
        threading.Thread(target=_answer_once, args=(upstream,), daemon=True).start()
        reply, = tcp(DNSRecord.question("example.org"))
    assert addresses(reply) == {"192.0.2.77"}


def _answer_once(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        reader = conn.makefile("rb")
        query = DNSRecord.parse(reader.read(struct.unpack("!H", reader.read(2))[0]))
        reply = query.reply()
        reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A("192.0.2.77"), ttl=60))
        packed = reply.pack()
        conn.sendall(struct.pack("!H", len(packed)) + packed)


def test_glibc_retries_a_truncated_answer_over_tcp_and_gets_every_address(server: DnsServer, tmp_path: Path) -> None:
    """What a container's resolver does (glibc, as in the python image), with a private
    resolv.conf in a private mount namespace: the UDP answer holds fewer than 100 addresses
    (above), so all 100 come only if glibc accepts the truncated answer and asks again over TCP."""
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver {GATEWAY}\noptions ndots:0 attempts:1\n")
    lookup = ("import socket; print(' '.join(sorted({a[4][0] for a in "
              "socket.getaddrinfo('many', 80, socket.AF_INET, socket.SOCK_STREAM)})))")
    out = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                          'mount --bind "$0" /etc/resolv.conf && exec "$1" -c "$2"', str(conf), sys.executable,
                          lookup], capture_output=True, text=True, timeout=30, check=True)
    assert set(out.stdout.split()) == set(MANY)


def test_tcp_listens_once_a_socket_that_held_its_port_is_gone() -> None:
    """A network whose gateway's TCP port 53 was held when it was made (another instance's DNS
    still bound there) answered over UDP only for as long as the engine ran; the next table
    rebuild now takes the port once it is free."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind((GATEWAY, 53))
    holder.listen(1)
    dns = DnsServer(upstreams=[])
    try:
        dns.set_network("net", GATEWAY)
        dns.set_records("net", {"one": ["10.89.0.2"]})
        assert addresses(udp(DNSRecord.question("one"))[1]) == {"10.89.0.2"}  # UDP meanwhile
        holder.close()
        dns.set_network("net", GATEWAY)  # the engine's next rebuild
        assert addresses(tcp(DNSRecord.question("one"))[0]) == {"10.89.0.2"}
    finally:
        holder.close()
        dns.close()


def test_one_containers_names_are_added_to_the_table_and_forgotten(server: DnsServer) -> None:
    """A start adds its container's names to what is there (no rebuild); a network not served
    yet is refused whole, so the caller rebuilds instead."""
    assert server.add({"net": {"One": ["10.89.9.9"], "new.": ["10.89.9.9"]}}, {"10.89.9.9": ["net"]})
    assert addresses(udp(DNSRecord.question("one"))[1]) == {"10.89.0.2", "10.89.9.9"}
    assert addresses(udp(DNSRecord.question("new"))[1]) == {"10.89.9.9"}
    assert not server.add({"net": {"x": ["10.89.9.8"]}, "other": {"x": ["10.89.9.8"]}}, {})
    assert "x" not in server._networks["net"].records  # nothing of a refused add is kept
    server.forget(["10.89.9.9"])
    assert addresses(udp(DNSRecord.question("one"))[1]) == {"10.89.0.2"}
    assert "new" not in server._networks["net"].records
