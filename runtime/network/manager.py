"""Bridges, veths and published ports for one pyorch instance (the engine's network API).

pyroute2 is imported here, in the long-lived engine, never per container. Rules go through
libnftables in process. Calls are serialised by the caller (the engine holds one lock).
"""

from __future__ import annotations

import ipaddress
import random
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import nftables
from pyroute2 import IPRoute, NetlinkError

from runtime.layout import HostLayout
from runtime.network import ipam
from runtime.network.errors import NetworkError, PortConflict
from runtime.network.model import Attachment, NetworkInfo, NetworkSpec, PortBinding
from runtime.network.netns import netlink_socket_in
from runtime.network.ruleset import Publication, render
from runtime.network.state import StateFile

EEXIST = 17
ENODEV = 19


def _sysctl(path: str, value: str) -> None:
    try:
        current = Path(path).read_text().strip()
        if current != value:
            Path(path).write_text(value)
    except OSError:
        pass  # absent on this kernel (e.g. IPv6 disabled): nothing to tune


def _info(name: str, raw: dict[str, Any]) -> NetworkInfo:
    return NetworkInfo(name, raw["bridge"], raw["subnet"], raw["gateway"], bool(raw.get("internal")))


def _listening(protocol: str) -> set[int]:
    """Ports host processes listen on (TCP LISTEN, or bound UDP sockets), from /proc/net."""
    ports: set[int] = set()
    for name in (protocol, protocol + "6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and (protocol == "udp" or fields[3] == "0A"):
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class NetworkManager:
    def __init__(self, layout: HostLayout, outbound_nat: bool = True) -> None:
        self.layout = layout
        self.state = StateFile(layout.networks_dir)
        self.outbound_nat = outbound_nat
        self._nft = nftables.Nftables()
        self._ipr: IPRoute | None = None

    @property
    def ipr(self) -> IPRoute:
        if self._ipr is None:
            self._ipr = IPRoute()
        return self._ipr

    def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    # --- networks ------------------------------------------------------------------------------------
    def _taken_subnets(self, state: dict[str, Any], except_name: str | None = None) -> list[ipaddress.IPv4Network]:
        taken: list[ipaddress.IPv4Network] = []
        for route in self.ipr.get_routes(family=2):
            dst = route.get_attr("RTA_DST")
            if dst:
                taken.append(ipaddress.IPv4Network(f"{dst}/{route['dst_len']}", strict=False))
        for addr in self.ipr.get_addr(family=2):
            taken.append(ipaddress.IPv4Network(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}", strict=False))
        for name, raw in state["networks"].items():
            if name != except_name:
                taken.append(ipaddress.IPv4Network(raw["subnet"]))
        return [t for t in taken if not t.is_loopback]

    def ensure_network(self, spec: NetworkSpec) -> NetworkInfo:
        with self.state.locked() as state:
            raw = state["networks"].get(spec.name)
            if raw is None:
                taken = self._taken_subnets(state)
                subnet = str(ipam.check_subnet(spec.subnet, taken)) if spec.subnet else ipam.pick_subnet(taken)
                raw = {"bridge": self.layout.bridge_name(spec.name), "subnet": subnet,
                       "gateway": spec.gateway or ipam.default_gateway(subnet), "internal": spec.internal,
                       "labels": dict(spec.labels), "allocations": {}, "last": None}
                state["networks"][spec.name] = raw
            info = _info(spec.name, raw)
            self._ensure_bridge(info)
            self._apply(state)
        return info

    def _ensure_bridge(self, info: NetworkInfo) -> None:
        ipr = self.ipr
        if not ipr.link_lookup(ifname=info.bridge):
            try:
                ipr.link("add", ifname=info.bridge, kind="bridge", br_stp_state=0, br_forward_delay=0)
            except NetlinkError as exc:
                if exc.code != EEXIST:
                    raise NetworkError(f"cannot create bridge {info.bridge}: {exc}") from exc
        index = ipr.link_lookup(ifname=info.bridge)[0]
        prefix = ipaddress.ip_network(info.subnet).prefixlen
        try:
            ipr.addr("add", index=index, address=info.gateway, prefixlen=prefix)
        except NetlinkError as exc:
            if exc.code != EEXIST:
                raise NetworkError(f"cannot address bridge {info.bridge}: {exc}") from exc
        # Pin the MAC: otherwise the bridge takes its lowest port's and changes as veths come and go.
        mac = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
        ipr.link("set", index=index, address=mac, state="up")
        _sysctl("/proc/sys/net/ipv4/ip_forward", "1")
        _sysctl(f"/proc/sys/net/ipv4/conf/{info.bridge}/route_localnet", "1")
        _sysctl(f"/proc/sys/net/ipv4/conf/{info.bridge}/rp_filter", "2")
        _sysctl(f"/proc/sys/net/ipv6/conf/{info.bridge}/accept_ra", "0")

    def remove_network(self, name: str) -> None:
        with self.state.locked() as state:
            raw = state["networks"].pop(name, None)
            if raw is not None:
                self._delete_link(raw["bridge"])
            self._apply(state)

    def list_networks(self) -> list[NetworkInfo]:
        return [_info(n, raw) for n, raw in sorted(self.state.read()["networks"].items())]

    # --- containers ----------------------------------------------------------------------------------
    def connect(self, container_id: str, pid: int, network_name: str, ipv4_address: str | None = None,
                aliases: tuple[str, ...] = (), ifname: str = "eth0", default_route: bool = True) -> Attachment:
        with self.state.locked() as state:
            raw = state["networks"].get(network_name)
            if raw is None:
                raise NetworkError(f"network {network_name} does not exist")
            ip = ipam.allocate(raw["subnet"], raw["gateway"], raw["allocations"], raw.get("last"), ipv4_address)
            raw["allocations"][ip] = container_id
            raw["last"] = ip
        info = _info(network_name, raw)
        host_ifname = self.layout.veth_name(container_id, network_name)
        try:
            mac = self._plumb(pid, info, ip, host_ifname, ifname, default_route and not info.internal)
        except BaseException:
            self._release(network_name, container_id)
            self._delete_link(host_ifname)
            raise
        return Attachment(network_name, ip, mac, ifname, host_ifname, info.gateway)

    def _plumb(self, pid: int, info: NetworkInfo, ip: str, host_ifname: str, ifname: str,
               default_route: bool) -> str:
        ipr = self.ipr
        bridge = ipr.link_lookup(ifname=info.bridge)
        if not bridge:
            raise NetworkError(f"bridge {info.bridge} of network {info.name} is missing")
        request = {"ifname": host_ifname, "kind": "veth", "master": bridge[0], "state": "up",
                   "peer": {"ifname": ifname, "net_ns_fd": f"/proc/{pid}/ns/net"}}
        try:  # one request: host end up on the bridge, peer created inside the container's netns
            try:
                ipr.link("add", **request)
            except NetlinkError as exc:
                if exc.code != EEXIST:
                    raise
                self._delete_link(host_ifname)  # a stale end left by a crashed attempt
                ipr.link("add", **request)
        except NetlinkError as exc:
            raise NetworkError(f"cannot create the veth for {info.name}: {exc}") from exc
        prefix = ipaddress.ip_network(info.subnet).prefixlen
        inside = IPRoute(fileno=netlink_socket_in(pid))
        try:
            inside.link("set", index=1, state="up")  # lo is ifindex 1 in every network namespace
            link = inside.link("get", ifname=ifname)[0]
            index = link["index"]
            inside.addr("add", index=index, address=ip, prefixlen=prefix)
            inside.link("set", index=index, state="up")
            if default_route:
                inside.route("add", dst="0.0.0.0/0", gateway=info.gateway, oif=index)
            mac = str(link.get_attr("IFLA_ADDRESS"))
        except NetlinkError as exc:
            raise NetworkError(f"cannot configure {ifname} in the container: {exc}") from exc
        finally:
            inside.close()
        return mac

    def disconnect(self, container_id: str, network_name: str) -> None:
        """Release the address; the veth goes with the container's netns, or now if it is still there."""
        self._release(network_name, container_id)
        self._delete_link(self.layout.veth_name(container_id, network_name))

    def _release(self, network_name: str, container_id: str) -> None:
        with self.state.locked() as state:
            raw = state["networks"].get(network_name)
            if raw is not None:
                raw["allocations"] = {ip: c for ip, c in raw["allocations"].items() if c != container_id}

    def _delete_link(self, ifname: str) -> None:
        for index in self.ipr.link_lookup(ifname=ifname):
            try:
                self.ipr.link("del", index=index)
            except NetlinkError as exc:
                if exc.code != ENODEV:
                    raise NetworkError(f"cannot delete {ifname}: {exc}") from exc

    # --- published ports ------------------------------------------------------------------------------
    def check_ports(self, key: str, bindings: list[PortBinding]) -> None:
        """Refuse ports given twice, held by another service, or listened on by a host process."""
        seen: set[tuple[str, int]] = set()
        state = self.state.read()
        for b in bindings:
            ident = (b.protocol, b.host_port)
            if ident in seen:
                raise PortConflict(f"port {b.host_port}/{b.protocol} is published twice")
            seen.add(ident)
            for other, entry in state["ports"].items():
                if other == key:
                    continue
                for ob in entry["bindings"]:
                    if (ob["protocol"], ob["host_port"]) == ident and _ips_overlap(ob["host_ip"], b.host_ip):
                        raise PortConflict(f"port {b.host_port}/{b.protocol} is already published by {other}")
            mine = state["ports"].get(key, {}).get("bindings", [])
            if ident not in {(ob["protocol"], ob["host_port"]) for ob in mine} and \
                    b.host_port in _listening(b.protocol):
                raise PortConflict(f"port {b.host_port}/{b.protocol} is already in use by a host process")

    def allocate_host_port(self, protocol: str = "tcp") -> int:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        used = _listening(protocol) | {
            b["host_port"] for entry in self.state.read()["ports"].values() for b in entry["bindings"]}
        for _ in range(1000):
            port = random.randint(low, high)
            if port not in used:
                return port
        raise PortConflict("no free host port in the ephemeral range")

    def publish(self, key: str, bindings: list[PortBinding], backends: list[str]) -> None:
        with self.state.locked() as state:
            entry = {"bindings": [asdict(b) for b in bindings], "backends": list(backends)}
            if state["ports"].get(key) == entry:
                return
            state["ports"][key] = entry
            self._apply(state)

    def unpublish(self, key: str) -> None:
        with self.state.locked() as state:
            if state["ports"].pop(key, None) is not None:
                self._apply(state)

    # --- nftables ---------------------------------------------------------------------------------
    def _apply(self, state: dict[str, Any]) -> None:
        networks = [_info(n, raw) for n, raw in state["networks"].items()]
        publications = [
            Publication(key, tuple(PortBinding(**b) for b in entry["bindings"]), tuple(entry["backends"]))
            for key, entry in state["ports"].items()
        ]
        if not networks and not publications:
            self._nft_cmd(f"table ip {self.layout.nft_table}\ndelete table ip {self.layout.nft_table}\n")
            return
        self._nft_cmd(render(self.layout.nft_table, networks, publications, self.outbound_nat))

    def _nft_cmd(self, text: str) -> None:
        rc, _out, err = self._nft.cmd(text)
        if rc != 0:
            raise NetworkError(f"nftables refused the ruleset: {err.strip()}")

    def cleanup_all(self) -> None:
        """Remove every bridge, veth, nft table and state file of this instance."""
        state = self.state.read()
        for name, raw in state["networks"].items():
            for cid in set(raw["allocations"].values()):
                self._delete_link(self.layout.veth_name(cid, name))
            self._delete_link(raw["bridge"])
        self._nft_cmd(f"table ip {self.layout.nft_table}\ndelete table ip {self.layout.nft_table}\n")
        shutil.rmtree(self.layout.networks_dir, ignore_errors=True)
        self.close()


def _ips_overlap(a: str | None, b: str | None) -> bool:
    wildcard = (None, "", "0.0.0.0", "::")
    return a in wildcard or b in wildcard or a == b
