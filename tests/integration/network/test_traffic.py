"""Traffic between containers, with bridge netfilter off and on (the host's setting is restored).

Real bytes from inside one stand-in's netns to another: TCP and UDP within a network, nothing
between networks, ICC off refusing direct traffic but not the published port, internal networks
talking inside only, hairpin through the host address, and a container reaching a server on the
host through its gateway address (what `host-gateway` names).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from runtime.network import NetworkSpec, PortBinding
from runtime.network.flows import inbound_connections, wait_inbound_drained
from tests.bridge_netfilter import VALUES, bridge_nf_call_iptables
from tests.helpers import host_address
from tests.integration.network.conftest import TCP_PORT, UDP_PORT, Harness, Standin

pytestmark = pytest.mark.root

# One client run per question: prints what came back, or "blocked" (timeout, refused, unreachable).
CLIENT = """
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if proto == "tcp":
        with socket.create_connection((host, port), timeout=2) as s:
            print(s.makefile("r").readline().strip())
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(b"who", (host, port))
            print(s.recv(2048).decode())
except OSError:
    print("blocked")
"""


@pytest.fixture(params=VALUES, ids=[f"bridge-nf-call-iptables={v}" for v in VALUES])
def bridge_nf(request: pytest.FixtureRequest) -> Iterator[str]:
    with bridge_nf_call_iptables(request.param):
        yield str(request.param)


def ask(standin: Standin, proto: str, host: str, port: int) -> str:
    out = subprocess.run(["nsenter", "-t", str(standin.pid), "-n", sys.executable, "-c", CLIENT, proto, host,
                          str(port)], capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


def test_containers_of_one_network_talk_tcp_and_udp(harness: Harness, bridge_nf: str) -> None:
    harness.nm.ensure_network(NetworkSpec(name="app"))
    a, b = harness.container("a"), harness.container("b")
    harness.connect(a, "app")
    b_ip = harness.connect(b, "app").ip
    assert ask(a, "tcp", b_ip, TCP_PORT) == "b"
    assert ask(a, "udp", b_ip, UDP_PORT) == "b"


def test_networks_and_internal_networks_are_sealed_from_each_other(harness: Harness, bridge_nf: str) -> None:
    harness.nm.ensure_network(NetworkSpec(name="left"))
    harness.nm.ensure_network(NetworkSpec(name="sealed", internal=True))
    a, b, c = harness.container("a"), harness.container("b"), harness.container("c")
    a_ip = harness.connect(a, "left").ip
    b_ip = harness.connect(b, "sealed").ip
    c_ip = harness.connect(c, "sealed").ip
    assert ask(c, "tcp", b_ip, TCP_PORT) == "b"  # inside an internal network: everything
    assert ask(c, "udp", b_ip, UDP_PORT) == "b"
    assert ask(a, "tcp", b_ip, TCP_PORT) == "blocked"
    assert ask(a, "udp", c_ip, UDP_PORT) == "blocked"
    assert ask(b, "tcp", a_ip, TCP_PORT) == "blocked"  # nothing leaves the internal network


def test_icc_off_refuses_direct_traffic_but_not_the_published_port(harness: Harness, bridge_nf: str) -> None:
    harness.nm.ensure_network(NetworkSpec(name="quiet", icc=False))
    a, b = harness.container("qa"), harness.container("qb")
    harness.connect(a, "quiet")
    b_ip = harness.connect(b, "quiet").ip
    tcp, udp = harness.nm.allocate_host_port("tcp"), harness.nm.allocate_host_port("udp")
    harness.nm.publish("proj/qb", [PortBinding(None, tcp, TCP_PORT, "tcp"), PortBinding(None, udp, UDP_PORT, "udp")],
                       [b_ip])
    assert ask(a, "tcp", b_ip, TCP_PORT) == "blocked"
    assert ask(a, "udp", b_ip, UDP_PORT) == "blocked"
    with socket.create_connection(("127.0.0.1", tcp), timeout=5) as s:  # from the host
        assert s.makefile("r").readline().strip() == "qb"
    assert ask(a, "tcp", host_address(), tcp) == "qb"  # hairpin from a peer on the same network
    assert ask(a, "udp", host_address(), udp) == "qb"
    assert ask(b, "tcp", host_address(), tcp) == "qb"  # and from the backend itself


def test_hairpin_and_a_server_on_the_host_through_the_gateway(harness: Harness, bridge_nf: str) -> None:
    info = harness.nm.ensure_network(NetworkSpec(name="hp"))
    a, b = harness.container("ha"), harness.container("hb")
    harness.connect(a, "hp")
    b_ip = harness.connect(b, "hp").ip
    port = harness.nm.allocate_host_port("tcp")
    harness.nm.publish("proj/hb", [PortBinding(None, port, TCP_PORT, "tcp")], [b_ip])
    assert ask(a, "tcp", host_address(), port) == "hb"
    assert ask(b, "tcp", info.gateway, port) == "hb"
    with socket.socket() as server:  # a server the host runs, on the network's gateway address
        server.bind((info.gateway, 0))
        server.listen(1)
        threading.Thread(target=_greet_once, args=(server,), daemon=True).start()
        assert ask(a, "tcp", info.gateway, server.getsockname()[1]) == "host"


def _greet_once(server: socket.socket) -> None:
    conn, _ = server.accept()
    with conn:
        conn.sendall(b"host\n")


HOLD = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30) as s:
    f = s.makefile("rwb")
    f.readline()
    f.write(b"hold\\n"); f.flush()
    print(f.readline().decode().strip(), flush=True)
"""


def test_a_drain_sees_direct_connections_in_the_containers_own_sockets(harness: Harness, bridge_nf: str) -> None:
    """A connection by name goes straight from one container to another: the host's conntrack
    sees it only with bridge netfilter on; the server's own sockets show it either way."""
    harness.nm.ensure_network(NetworkSpec(name="dr"))
    client, server = harness.container("dc"), harness.container("ds")
    harness.connect(client, "dr")
    server_ip = harness.connect(server, "dr").ip
    assert inbound_connections(server.pid) == 0  # its listening sockets are not connections
    held = subprocess.Popen(["nsenter", "-t", str(client.pid), "-n", sys.executable, "-c", HOLD, server_ip,
                             str(TCP_PORT)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while inbound_connections(server.pid) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert inbound_connections(server.pid) == 1
        assert wait_inbound_drained(server.pid, timeout=0.2) == 1  # still held: the wait gives up
        server.release()
        assert wait_inbound_drained(server.pid, timeout=10) == 0
        assert held.communicate(timeout=10)[0].strip() == "done"  # the held request was answered
    finally:
        if held.poll() is None:
            held.kill()
            held.wait()
