"""Published ports through nftables: loopback and host address, balancing, draining, UDP, hairpin."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from runtime.network import NetworkError, NetworkSpec, PortBinding, PortConflict
from tests.helpers import host_address
from tests.integration.network.conftest import TCP_PORT, UDP_PORT, Harness, Standin

pytestmark = pytest.mark.root


def greeting(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=5) as s:
        return s.makefile("r").readline().strip()


def udp_ask(host: str, port: int) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a new source port: a new flow
        s.settimeout(5)
        s.sendto(b"who", (host, port))
        return s.recv(2048).decode()


def replicas(harness: Harness, network: str, names: list[str]) -> tuple[list[Standin], list[str]]:
    harness.nm.ensure_network(NetworkSpec(name=network))
    standins = [harness.container(n) for n in names]
    return standins, [harness.connect(s, network).ip for s in standins]


def test_published_port_is_reachable_from_loopback_and_the_host_address_and_balanced(harness: Harness) -> None:
    _, ips = replicas(harness, "lb", ["r1", "r2", "r3"])
    port = harness.nm.allocate_host_port("tcp")
    binding = PortBinding(None, port, TCP_PORT, "tcp")
    harness.nm.check_ports("proj/web", [binding])
    harness.nm.publish("proj/web", [binding], ips)
    for host in ("127.0.0.1", host_address()):
        seen = [greeting(host, port) for _ in range(9)]
        assert set(seen) == {"r1", "r2", "r3"}, (host, seen)


def test_a_backend_left_out_finishes_its_request_while_new_ones_go_to_the_rest(harness: Harness) -> None:
    """How the engine drains a replica (a rollout, an unhealthy restart): it publishes the set
    without it; conntrack keeps the NAT of the connections it already has."""
    (a, _b), ips = replicas(harness, "drain", ["a", "b"])
    port = harness.nm.allocate_host_port("tcp")
    bindings = [PortBinding("127.0.0.1", port, TCP_PORT, "tcp")]
    harness.nm.publish("proj/api", bindings, ips)
    held = None
    for _ in range(4):  # round robin: one of the first two connections lands on a
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        reader = s.makefile("r")
        if reader.readline().strip() == "a":
            s.sendall(b"hold\n")
            held = (s, reader)
            break
        s.close()
    assert held is not None
    try:
        harness.nm.publish("proj/api", bindings, ips[1:])  # a leaves the balancer, its connection stays
        assert {greeting("127.0.0.1", port) for _ in range(6)} == {"b"}
        a.release()
        assert held[1].readline().strip() == "done"
    finally:
        held[0].close()
    harness.nm.publish("proj/api", bindings, ips)  # back into rotation
    assert {greeting("127.0.0.1", port) for _ in range(6)} == {"a", "b"}
    with pytest.raises(NetworkError, match="not an IPv4 address"):
        harness.nm.publish("proj/api", bindings, ["a"])


def test_no_ready_backend_refuses_connections_but_keeps_the_port(harness: Harness) -> None:
    _, ips = replicas(harness, "empty", ["only"])
    port = harness.nm.allocate_host_port("tcp")
    binding = PortBinding(None, port, TCP_PORT, "tcp")
    harness.nm.publish("proj/web", [binding], ips)
    assert greeting("127.0.0.1", port) == "only"
    harness.nm.publish("proj/web", [binding], [])
    with pytest.raises(ConnectionRefusedError):
        greeting("127.0.0.1", port)
    with pytest.raises(PortConflict, match=f"{port}/tcp.*proj/web"):
        harness.nm.check_ports("proj/other", [binding])
    harness.nm.unpublish("proj/web")
    harness.nm.check_ports("proj/other", [binding])


def test_udp_mapping_is_balanced(harness: Harness) -> None:
    _, ips = replicas(harness, "dns", ["u1", "u2"])
    port = harness.nm.allocate_host_port("udp")
    harness.nm.publish("proj/dns", [PortBinding(None, port, UDP_PORT, "udp")], ips)
    assert {udp_ask("127.0.0.1", port) for _ in range(6)} == {"u1", "u2"}


def test_udp_flow_seen_before_publishing_is_forgotten(harness: Harness) -> None:
    _, ips = replicas(harness, "dns2", ["late"])
    port = harness.nm.allocate_host_port("udp")
    binding = PortBinding(None, port, UDP_PORT, "udp")
    harness.nm.publish("proj/dns", [binding], [])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # the same flow before and after
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.5)
        s.sendto(b"who", ("127.0.0.1", port))
        with pytest.raises(OSError):
            s.recv(2048)  # nothing behind the port yet (refused or silent)
        harness.nm.publish("proj/dns", [binding], ips)
        s.settimeout(5)
        s.sendto(b"who", ("127.0.0.1", port))
        assert s.recv(2048) == b"late"


def test_containers_reach_published_ports_through_the_host_hairpin(harness: Harness) -> None:
    standins, ips = replicas(harness, "hair", ["h1", "h2"])
    port = harness.nm.allocate_host_port("tcp")
    harness.nm.publish("proj/web", [PortBinding(None, port, TCP_PORT, "tcp")], ips)
    gateway = harness.nm.list_networks()[0].gateway
    client = (
        "import socket,sys\n"
        "seen=set()\n"
        "for _ in range(6):\n"
        "    s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)\n"
        "    seen.add(s.makefile('r').readline().strip()); s.close()\n"
        "print(','.join(sorted(seen)))\n"
    )
    for target in (gateway, host_address()):
        out = subprocess.run(["nsenter", "-t", str(standins[0].pid), "-n", sys.executable, "-c", client,
                              target, str(port)], capture_output=True, text=True, timeout=30, check=True)
        assert out.stdout.strip() == "h1,h2", target  # including h1 reaching itself


def test_port_conflicts_are_refused_with_the_port_and_the_holder(harness: Harness) -> None:
    _, ips = replicas(harness, "conf", ["x"])
    port = harness.nm.allocate_host_port("tcp")
    binding = PortBinding(None, port, TCP_PORT, "tcp")
    harness.nm.publish("proj/one", [binding], ips)
    with pytest.raises(PortConflict, match=f"{port}/tcp.*proj/one"):
        harness.nm.check_ports("proj/two", [binding])
    with pytest.raises(PortConflict, match="twice"):
        harness.nm.check_ports("proj/two", [PortBinding(None, port + 1, 80), PortBinding(None, port + 1, 81)])
    harness.nm.check_ports("proj/one", [binding])  # the holder may publish it again
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        with pytest.raises(PortConflict, match=f"{taken}/tcp.*host process"):
            harness.nm.check_ports("proj/two", [PortBinding(None, taken, 80)])
    harness.nm.check_ports("proj/two", [PortBinding(None, port, TCP_PORT, "udp")])  # other protocol: free
