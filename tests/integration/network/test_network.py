"""Bridges, IPAM and veths against the real kernel, with processes in their own netns as containers."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import struct
import sys
import threading

import pytest
from dnslib import DNSRecord
from pyroute2 import IPRoute

from runtime.features import default_route_uplink
from runtime.network import NetworkError, NetworkManager, NetworkSpec
from runtime.network.dns import DnsServer
from runtime.network.state import StateFile
from tests.integration.network.conftest import TCP_PORT, Harness, netns_run

pytestmark = pytest.mark.root


def greeting(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=5) as s:
        return s.makefile("r").readline().strip()


def test_bridge_gets_a_free_subnet_its_gateway_and_a_pinned_mac(harness: Harness) -> None:
    info = harness.nm.ensure_network(NetworkSpec(name="proj_default"))
    harness.networks.add("proj_default")
    assert info.bridge == harness.layout.bridge_name("proj_default")
    subnet = ipaddress.IPv4Network(info.subnet)
    assert subnet.prefixlen == 24 and subnet.subnet_of(ipaddress.IPv4Network("10.89.0.0/16"))
    assert info.gateway == str(next(subnet.hosts()))
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=info.bridge)[0]
        link = ipr.get_links(index)[0]
        addresses = [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index)]
    assert link.get_attr("IFLA_OPERSTATE") in ("UP", "UNKNOWN", "DOWN")  # no ports yet: carrier may be down
    assert link["flags"] & 1  # IFF_UP
    assert info.gateway in addresses
    # the MAC is set explicitly (addr_assign_type 3 = NET_ADDR_SET), so veths coming and going keep it
    assert open(f"/sys/class/net/{info.bridge}/addr_assign_type").read().strip() == "3"
    assert open(f"/proc/sys/net/ipv4/conf/{info.bridge}/route_localnet").read().strip() == "1"
    assert open("/proc/sys/net/ipv4/ip_forward").read().strip() == "1"
    assert harness.nm.ensure_network(NetworkSpec(name="proj_default")) == info  # idempotent


def test_subnets_persist_and_never_overlap(harness: Harness) -> None:
    first = harness.nm.ensure_network(NetworkSpec(name="a"))
    second = harness.nm.ensure_network(NetworkSpec(name="b"))
    harness.networks |= {"a", "b"}
    assert not ipaddress.ip_network(first.subnet).overlaps(ipaddress.ip_network(second.subnet))
    again = NetworkManager(harness.layout)
    try:
        assert again.ensure_network(NetworkSpec(name="a")) == first
        assert [n.name for n in again.list_networks()] == ["a", "b"]
    finally:
        again.close()


def test_a_subnet_whose_gateway_a_socket_still_holds_is_not_chosen(harness: Harness) -> None:
    """A socket outlives the address it is bound to: another instance's engine whose network was
    deleted under it keeps its DNS listener on the old gateway. A new network on that subnet would
    find its gateway's TCP port 53 taken, and every DNS query over TCP would go to that stranger
    (seen: `rcode 2` in tests/e2e/test_network_traffic.py)."""
    first = harness.nm.ensure_network(NetworkSpec(name="gone"))
    stale = [socket.socket(socket.AF_INET, kind) for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM)]
    dns = DnsServer(upstreams=[])
    try:
        for sock in stale:
            sock.bind((first.gateway, 53))
        stale[0].listen(1)
        harness.nm.remove_network("gone")  # the address goes, the sockets stay bound to it

        second = harness.nm.ensure_network(NetworkSpec(name="next"))
        harness.networks.add("next")
        assert second.subnet != first.subnet
        dns.set_network("next", second.gateway)
        dns.set_records("next", {"web": ["10.89.0.2"]})
        with socket.create_connection((second.gateway, 53), timeout=5) as s:  # TCP answered by this server
            query = DNSRecord.question("web").pack()
            s.sendall(struct.pack("!H", len(query)) + query)
            reader = s.makefile("rb")
            reply = DNSRecord.parse(reader.read(struct.unpack("!H", reader.read(2))[0]))
        assert [str(rr.rdata) for rr in reply.rr] == ["10.89.0.2"]
    finally:
        dns.close()
        for sock in stale:
            sock.close()


def test_explicit_subnet_is_honoured_and_a_clash_refused(harness: Harness) -> None:
    info = harness.nm.ensure_network(NetworkSpec(name="fixed", subnet="10.213.7.0/24", gateway="10.213.7.254"))
    harness.networks.add("fixed")
    assert (info.subnet, info.gateway) == ("10.213.7.0/24", "10.213.7.254")
    with pytest.raises(NetworkError, match=re.escape("10.213.7.0/24")):
        harness.nm.ensure_network(NetworkSpec(name="other", subnet="10.213.7.128/25"))
    with pytest.raises(NetworkError, match="overlaps"):
        harness.nm.ensure_network(NetworkSpec(name="resolver", subnet="10.255.3.0/24"))
    with pytest.raises(NetworkError, match="gateway"):
        harness.nm.ensure_network(NetworkSpec(name="badgw", subnet="10.213.9.0/24", gateway="10.1.1.1"))


def test_connect_gives_a_working_address_and_a_configured_netns(harness: Harness) -> None:
    info = harness.nm.ensure_network(NetworkSpec(name="web"))
    c = harness.container("c1")
    att = harness.connect(c, "web")
    assert ipaddress.ip_address(att.ip) in ipaddress.ip_network(info.subnet)
    assert att.ip != info.gateway and att.gateway == info.gateway and att.ifname == "eth0"
    assert att.host_ifname == harness.layout.veth_name("c1", "web")
    assert greeting(att.ip, TCP_PORT) == "c1"
    links = json.loads(netns_run(c.pid, "ip", "-j", "link", "show"))
    state = {link["ifname"]: link for link in links}
    assert "UP" in state["eth0"]["flags"]  # lo is the container runtime's (child.py), not the network's
    assert state["eth0"]["address"] == att.mac
    routes = json.loads(netns_run(c.pid, "ip", "-j", "-4", "route", "show", "default"))
    assert routes and routes[0]["gateway"] == info.gateway
    assert netns_run(c.pid, "cat", "/proc/sys/net/ipv4/conf/eth0/arp_notify").strip() == "1"
    with IPRoute() as ipr:
        host_end = ipr.get_links(ipr.link_lookup(ifname=att.host_ifname)[0])[0]
        assert host_end.get_attr("IFLA_MASTER") == ipr.link_lookup(ifname=info.bridge)[0]


def test_addresses_are_never_handed_out_twice(harness: Harness) -> None:
    info = harness.nm.ensure_network(NetworkSpec(name="ipam"))
    a, b = harness.container("a"), harness.container("b")
    first = harness.connect(a, "ipam")
    other = NetworkManager(harness.layout)  # a second manager reads the persisted allocations
    try:
        harness.networks.add("ipam")
        harness.endpoints.add(("b", "ipam"))
        second = other.connect("b", b.pid, "ipam")
        assert second.ip not in (first.ip, info.gateway)
        with pytest.raises(NetworkError, match="already in use"):
            other.connect("x", b.pid, "ipam", ipv4_address=first.ip, ifname="eth1")
        with pytest.raises(NetworkError, match="already in use"):
            other.connect("x", b.pid, "ipam", ipv4_address=info.gateway, ifname="eth1")
    finally:
        other.close()
    assert greeting(first.ip, TCP_PORT) == "a" and greeting(second.ip, TCP_PORT) == "b"


def test_explicit_address_and_a_second_network(harness: Harness) -> None:
    harness.nm.ensure_network(NetworkSpec(name="front", subnet="10.213.20.0/24", ip_range="10.213.20.192/26"))
    harness.nm.ensure_network(NetworkSpec(name="back", subnet="10.213.21.0/24", internal=True))
    c = harness.container("multi")
    front = harness.connect(c, "front", ipv4_address="10.213.20.77")
    back = harness.connect(c, "back", ifname="eth1", default_route=False)
    assert front.ip == "10.213.20.77" and back.ifname == "eth1"
    dynamic = harness.connect(harness.container("ranged"), "front")
    assert dynamic.ip == "10.213.20.192"  # dynamic addresses come from ip_range, explicit ones need not
    with pytest.raises(NetworkError, match="ip_range"):
        harness.nm.ensure_network(NetworkSpec(name="front", subnet="10.213.20.0/24", ip_range="10.213.20.0/26"))
    assert greeting("10.213.20.77", TCP_PORT) == "multi"
    assert greeting(back.ip, TCP_PORT) == "multi"
    routes = json.loads(netns_run(c.pid, "ip", "-j", "-4", "route", "show", "default"))
    assert [r["dev"] for r in routes] == ["eth0"]


def test_internal_network_has_no_default_route(harness: Harness) -> None:
    harness.nm.ensure_network(NetworkSpec(name="sealed", internal=True))
    c = harness.container("sealed")
    harness.connect(c, "sealed")
    assert json.loads(netns_run(c.pid, "ip", "-j", "-4", "route", "show", "default")) == []


def test_disconnect_releases_the_address_and_the_veth(harness: Harness) -> None:
    harness.nm.ensure_network(NetworkSpec(name="churn"))
    c = harness.container("c")
    att = harness.connect(c, "churn")
    harness.nm.disconnect("c", "churn")
    harness.nm.disconnect("c", "churn")  # idempotent
    with IPRoute() as ipr:
        assert ipr.link_lookup(ifname=att.host_ifname) == []
    state = StateFile(harness.layout.networks_dir).read()
    assert att.ip not in state["networks"]["churn"]["allocations"]


def test_connecting_a_missing_process_fails_cleanly(harness: Harness) -> None:
    harness.nm.ensure_network(NetworkSpec(name="gone"))
    c = harness.container("ghost")
    c.stop()
    with pytest.raises(NetworkError):
        harness.connect(c, "gone")
    state = StateFile(harness.layout.networks_dir).read()
    assert state["networks"]["gone"]["allocations"] == {}


def test_remove_network_and_cleanup_all_leave_nothing(harness: Harness) -> None:
    harness.nm.ensure_network(NetworkSpec(name="x"))
    info = harness.nm.ensure_network(NetworkSpec(name="y"))
    c = harness.container("c")
    harness.connect(c, "y")
    harness.nm.remove_network("x")
    harness.nm.remove_network("x")  # idempotent
    assert [n.name for n in harness.nm.list_networks()] == ["y"]
    harness.nm.cleanup_all()
    assert harness.leftovers() == []
    with IPRoute() as ipr:
        assert ipr.link_lookup(ifname=info.bridge) == []


def test_networks_are_isolated_from_each_other_but_not_from_the_host(harness: Harness) -> None:
    harness.nm.ensure_network(NetworkSpec(name="left"))
    harness.nm.ensure_network(NetworkSpec(name="right"))
    a, b = harness.container("a"), harness.container("b")
    harness.connect(a, "left")
    right = harness.connect(b, "right")
    assert greeting(right.ip, TCP_PORT) == "b"  # the host reaches every container
    probe = ("import socket,sys\n"
             "try:\n    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)\n"
             "    print('reached')\nexcept OSError:\n    print('blocked')\n")
    out = netns_run(a.pid, sys.executable, "-c", probe, right.ip, str(TCP_PORT))
    assert out.strip() == "blocked"


def test_the_mtu_is_the_uplinks_unless_given_on_the_bridge_and_both_veth_ends(harness: Harness) -> None:
    uplink = default_route_uplink()
    default = harness.nm.ensure_network(NetworkSpec(name="dflt"))
    small = harness.nm.ensure_network(NetworkSpec(name="small", mtu=1280))
    assert default.mtu == (uplink.mtu if uplink is not None else 1500) and small.mtu == 1280
    for info in (default, small):
        c = harness.container(f"m{info.mtu}")
        att = harness.connect(c, info.name)
        assert int(open(f"/sys/class/net/{info.bridge}/mtu").read()) == info.mtu
        assert int(open(f"/sys/class/net/{att.host_ifname}/mtu").read()) == info.mtu
        inside = json.loads(netns_run(c.pid, "ip", "-j", "link", "show", "eth0"))[0]
        assert inside["mtu"] == info.mtu
    with pytest.raises(NetworkError, match="mtu 1280, the spec asks for 1400"):
        harness.nm.ensure_network(NetworkSpec(name="small", mtu=1400))
    with pytest.raises(NetworkError, match="icc True, the spec asks for False"):
        harness.nm.ensure_network(NetworkSpec(name="dflt", icc=False))


def _netlink_route_sockets() -> int:
    """This process's NETLINK_ROUTE sockets in the host's network namespace."""
    with open("/proc/net/netlink") as f:
        next(f)
        route = {line.split()[-1] for line in f if line.split()[1] == "0"}
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        count += target.startswith("socket:[") and target[8:-1] in route
    return count


def test_requests_from_ever_new_threads_keep_one_netlink_socket(harness: Harness) -> None:
    """The engine serves each API request on a new thread; pyroute2 opens a socket per calling
    thread and frees it only when closed, so the manager's netlink work must stay on one thread
    (issue 20: 206 NETLINK_ROUTE sockets after 100 up/down cycles)."""
    harness.networks.add("threads")
    harness.nm.ensure_network(NetworkSpec("threads"))
    before = _netlink_route_sockets()
    for _ in range(10):
        worker = threading.Thread(target=lambda: harness.nm.disconnect("nobody", "threads"))
        worker.start()
        worker.join()
    assert _netlink_route_sockets() == before
