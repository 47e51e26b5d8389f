"""Bridges, veths and published ports for one pyorch instance (the engine's network API).

pyroute2 is imported here, in the long-lived engine, never per container; a container's own links
are made with a few requests packed by hand (rtnl.py). Rules go through libnftables in process,
one transaction per change. One lock serialises the engine's threads' changes to the state and
the rules (a connect holds it only to choose the address); the state file's flock serialises
processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import random
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import nftables

from runtime import faults
from runtime.layout import HostLayout
from runtime.network import ipam, sysctl
from runtime.network.conntrack import forget_udp_flows
from runtime.network.errors import NetworkError, PortConflict
from runtime.network.hostports import bound_addresses, ephemeral_range, listening_ports
from runtime.network.model import Attachment, NetworkInfo, NetworkSpec, PortBinding
from runtime.network.mtu import default_mtu
from runtime.network.netlink_thread import HostNetlink
from runtime.network.netns import netlink_socket_in
from runtime.network.pyroute2_parts import NetlinkError
from runtime.network.rtnl import NetlinkFailure, Rtnl
from runtime.network.ruleset import Publication, removal, render
from runtime.network.state import StateFile

EEXIST = 17
EINVAL = 22
ENODEV = 19
PROTOCOLS = ("tcp", "udp")
# Instances side by side pick default subnets under one host-wide lock, so two never take the same.
SUBNET_LOCK = Path("/run/lock/pyorch-subnets.lock")


def _info(name: str, raw: dict[str, Any]) -> NetworkInfo:
    return NetworkInfo(name, raw["bridge"], raw["subnet"], raw["gateway"], bool(raw.get("internal")),
                       raw.get("ip_range"), dict(raw.get("labels") or {}), raw.get("mtu"),
                       bool(raw.get("icc", True)))


@contextlib.contextmanager
def _host_subnet_lock() -> Iterator[None]:
    SUBNET_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(SUBNET_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _check_bindings(bindings: list[PortBinding]) -> None:
    for b in bindings:
        if b.protocol not in PROTOCOLS:
            raise NetworkError(f"port {b.host_port}: protocol {b.protocol!r} is not one of {PROTOCOLS}")
        for port in (b.host_port, b.container_port):
            if not 1 <= port <= 65535:
                raise NetworkError(f"port {port}/{b.protocol} is outside 1-65535")
        if b.host_ip not in (None, ""):
            try:
                ipaddress.IPv4Address(b.host_ip)
            except ValueError as exc:
                raise NetworkError(f"port {b.host_port}/{b.protocol}: host address {b.host_ip!r} is not "
                                   "an IPv4 address") from exc


def _link_exists(ifname: str) -> bool:
    """One ioctl in this network namespace (a netlink dump would parse every link of the host)."""
    try:
        socket.if_nametoindex(ifname)
        return True
    except OSError:
        return False


def _ips_overlap(a: str | None, b: str | None) -> bool:
    wildcard = (None, "", "0.0.0.0", "::")
    return a in wildcard or b in wildcard or a == b


class NetworkManager:
    def __init__(self, layout: HostLayout, outbound_nat: bool = True) -> None:
        self.layout = layout
        self.state = StateFile(layout.networks_dir)
        self.outbound_nat = outbound_nat
        self._lock = threading.RLock()
        self._nft = nftables.Nftables()
        self._ipr: HostNetlink | None = None
        self._bridge_index: dict[str, int] = {}  # saves a netlink round trip per container
        # The kernel runs one RTNL request at a time anyway; taking turns here keeps a bridge
        # port's hairpin write (sysfs, which only *tries* RTNL and restarts the system call until
        # it gets it) from spinning while another connect's veth is being made.
        self._rtnl_turn = threading.Lock()

    @property
    def ipr(self) -> HostNetlink:
        """The host's netlink socket, served by one thread (netlink_thread.py: pyroute2 keeps a
        socket per calling thread, and the engine's API threads come and go)."""
        with self._lock:
            if self._ipr is None:
                self._ipr = HostNetlink()
            return self._ipr

    @property
    def alias(self) -> str:
        """Set on every bridge, so that this instance's links can be found without the state file."""
        return f"pyorch:{self.layout.instance}"

    def close(self) -> None:
        with self._lock:
            if self._ipr is not None:
                self._ipr.close()
                self._ipr = None

    # --- networks ------------------------------------------------------------------------------------
    def _host_subnets(self) -> list[ipaddress.IPv4Network]:
        taken: list[ipaddress.IPv4Network] = []
        for route in self.ipr.get_routes(family=2):
            dst = route.get_attr("RTA_DST")
            if dst:
                taken.append(ipaddress.IPv4Network(f"{dst}/{route['dst_len']}", strict=False))
        for addr in self.ipr.get_addr(family=2):
            taken.append(ipaddress.IPv4Network(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}", strict=False))
        return [t for t in taken if not t.is_loopback]

    def _new_network(self, spec: NetworkSpec, state: dict[str, Any]) -> dict[str, Any]:
        taken = self._host_subnets() + [ipaddress.IPv4Network(raw["subnet"]) for raw in state["networks"].values()]
        if spec.subnet:
            subnet = str(ipam.check_subnet(spec.subnet, taken))
        else:  # nor one where a socket holds an address (its gateway's DNS port could be taken)
            held = [ipaddress.IPv4Network(f"{address}/32") for address in bound_addresses()]
            subnet = ipam.pick_subnet(taken + held)
        gateway = ipam.check_gateway(subnet, spec.gateway) if spec.gateway else ipam.default_gateway(subnet)
        ip_range = ipam.check_ip_range(subnet, spec.ip_range) if spec.ip_range else None
        return {"bridge": self.layout.bridge_name(spec.name), "subnet": subnet, "gateway": gateway,
                "ip_range": ip_range, "internal": spec.internal, "labels": dict(spec.labels),
                "icc": spec.icc, "mtu": spec.mtu or default_mtu(), "allocations": {}, "last": None}

    def ensure_network(self, spec: NetworkSpec) -> NetworkInfo:
        """Create the network, or check and repair it (bridge, address, sysctls, rules); idempotent."""
        with self._lock, self.state.locked() as state:
            raw = state["networks"].get(spec.name)
            if raw is None:
                faults.point("network.create")
                with _host_subnet_lock():
                    raw = self._new_network(spec, state)
                    self._ensure_bridge(_info(spec.name, raw))
                state["networks"][spec.name] = raw
            else:
                self._check_unchanged(spec, raw)
                self._ensure_bridge(_info(spec.name, raw))
            self._apply(state)
            return _info(spec.name, raw)

    @staticmethod
    def _check_unchanged(spec: NetworkSpec, raw: dict[str, Any]) -> None:
        """An existing network is never silently reshaped: containers hold addresses in it."""
        wanted: dict[str, object] = {"internal": spec.internal, "icc": spec.icc}
        if spec.subnet:
            wanted["subnet"] = str(ipaddress.ip_network(spec.subnet, strict=False))
        if spec.gateway:
            wanted["gateway"] = spec.gateway
        if spec.ip_range:
            wanted["ip_range"] = str(ipaddress.ip_network(spec.ip_range, strict=False))
        if spec.mtu:
            wanted["mtu"] = spec.mtu
        current = {**raw, "icc": raw.get("icc", True)}  # networks made before ICC was an option had it on
        for key, value in wanted.items():
            if value != current.get(key):
                raise NetworkError(f"network {spec.name} exists with {key} {current.get(key)}, the spec asks "
                                   f"for {value}: remove the network to change it")

    def _ensure_bridge(self, info: NetworkInfo) -> None:
        ipr = self.ipr
        mtu = {"mtu": info.mtu} if info.mtu else {}
        if not ipr.link_lookup(ifname=info.bridge):
            try:
                ipr.link("add", ifname=info.bridge, kind="bridge", br_stp_state=0, br_forward_delay=0, **mtu)
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
        self._bridge_index[info.bridge] = index  # ifindexes are not reused soon: safe to remember
        mac = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
        # The MTU set, not inherited: a bridge otherwise follows its smallest port.
        ipr.link("set", index=index, address=mac, ifalias=self.alias, state="up", **mtu)
        sysctl.tune_bridge(info.bridge)

    def remove_network(self, name: str) -> None:
        """Delete the bridge, any veth still on it, the allocations and the network's rules."""
        self.remove_networks([name])

    def remove_networks(self, names: list[str]) -> None:
        """`remove_network` for several networks, with one state write and one nftables transaction."""
        faults.point("network.remove")
        with self._lock, self.state.locked() as state:
            popped = {name: state["networks"].pop(name) for name in names if name in state["networks"]}
            for name, raw in popped.items():
                for cid in set(raw["allocations"].values()):
                    self._delete_link(self.layout.veth_name(cid, name))
                self._delete_link(raw["bridge"])
            self._apply(state)

    def remove_network_if_unused(self, name: str, alive: Callable[[str], bool]) -> bool:
        """Remove the network unless a container for which ``alive(id)`` holds an address on it; the
        addresses of containers that are gone are dropped first. For networks that exist only while
        short-lived containers use them (the build network)."""
        with self._lock, self.state.locked() as state:
            raw = state["networks"].get(name)
            if raw is None:
                return False
            raw["allocations"] = {ip: cid for ip, cid in raw["allocations"].items() if alive(cid)}
            if raw["allocations"]:
                return False
            del state["networks"][name]
            self._delete_link(raw["bridge"])
            self._apply(state)
            return True

    def release_addresses(self, attachments: list[tuple[str, str]]) -> None:
        """Free the addresses of (container id, network) pairs in one state write; no link changes."""
        faults.point("network.release")
        with self._lock, self.state.locked() as state:
            isolated = False
            for cid, network_name in attachments:
                raw = state["networks"].get(network_name)
                if raw is not None:
                    raw["allocations"] = {ip: c for ip, c in raw["allocations"].items() if c != cid}
                    isolated |= not raw.get("icc", True)
            if isolated:
                self._apply(state)  # the veth leaves the no-ICC port set

    def holdings(self) -> dict[str, list[str]]:
        """Container id -> the networks where it holds an address, from the allocations themselves
        (the engine's own record of them may miss one whose connect was cut short); one read of
        the state file, however many containers the caller asks about."""
        held: dict[str, set[str]] = {}
        for name, raw in self.state.read()["networks"].items():
            for cid in raw["allocations"].values():
                held.setdefault(cid, set()).add(name)
        return {cid: sorted(names) for cid, names in held.items()}

    def holders(self) -> set[str]:
        """The ids of every container that holds an address on some network."""
        return set(self.holdings())

    def release_unknown(self, known: Callable[[str], bool]) -> list[tuple[str, str]]:
        """Free every address held by a container for which ``known(id)`` is False (one removed by
        a process that died before it released them), and delete its veth if one is left;
        returns the (container id, network) pairs freed."""
        with self._lock, self.state.locked() as state:
            freed = [(cid, name) for name, raw in state["networks"].items()
                     for cid in sorted(set(raw["allocations"].values())) if not known(cid)]
            if not freed:
                return []
            faults.point("network.release")
            gone = set(freed)
            for name, raw in state["networks"].items():
                raw["allocations"] = {ip: c for ip, c in raw["allocations"].items() if (c, name) not in gone}
            for cid, name in freed:
                self._delete_link(self.layout.veth_name(cid, name))
            self._apply(state)
        return freed

    def await_veths_gone(self, attachments: list[tuple[str, str]], grace: float = 1.0) -> None:
        """Wait for the veths of containers whose processes are all gone; delete what is left after ``grace``.

        They need no delete request each: the kernel deletes a veth with its netns, and cleans up
        namespaces that died together in one batch (one RCU grace period for all, where each
        `link del` waits for one of its own under the RTNL lock: ~12 ms a veth here). A veth still
        there after ``grace`` has a namespace kept alive by another holder, and is deleted.
        """
        pending = {self.layout.veth_name(cid, network_name) for cid, network_name in attachments}
        deadline = time.monotonic() + grace
        while pending := {ifname for ifname in pending if _link_exists(ifname)}:
            if time.monotonic() >= deadline:
                with self._lock:
                    for ifname in sorted(pending):
                        self._delete_link(ifname)
                return
            time.sleep(0.005)

    def list_networks(self) -> list[NetworkInfo]:
        # Not under the manager's lock (only the state's shared flock, held while its files are
        # read): waiting here for a connect's netlink work made every create of a burst queue
        # behind the others' (~10 ms each).
        return [_info(n, raw) for n, raw in sorted(self.state.read()["networks"].items())]

    # --- containers ----------------------------------------------------------------------------------
    def connect(self, container_id: str, pid: int, network_name: str, ipv4_address: str | None = None,
                aliases: tuple[str, ...] = (), ifname: str = "eth0", default_route: bool = True) -> Attachment:
        """Give the container ``pid`` an interface on the network, with an address of its own.

        ``aliases`` are names for service discovery; the DNS side keeps them (not the kernel).
        Only the address is chosen under the lock; the links are made on netlink sockets of this
        call's own (rtnl.py), so the connects of a burst of creates run side by side.
        """
        with self._lock:
            with self.state.locked() as state:
                raw = state["networks"].get(network_name)
                if raw is None:
                    raise NetworkError(f"network {network_name} does not exist")
                mine = [ip for ip, cid in raw["allocations"].items() if cid == container_id]
                if mine and ipv4_address in (None, mine[0]):
                    ip = mine[0]  # the same container again (e.g. a retried connect): keep its address
                else:
                    ip = ipam.allocate(raw["subnet"], raw["gateway"], raw["allocations"], raw.get("last"),
                                       ipv4_address, raw.get("ip_range"))
                    faults.point("network.allocate")
                    raw["allocations"][ip] = container_id
                    raw["last"] = ip
                if not raw.get("icc", True):
                    self._apply(state)  # the veth is in the no-ICC port set before it exists
            info = _info(network_name, raw)
            bridge = self._bridge(info)
        host_ifname = self.layout.veth_name(container_id, network_name)
        faults.point("network.veth")
        try:
            mac = self._plumb(pid, info, bridge, ip, host_ifname, ifname, default_route and not info.internal)
        except BaseException:
            with self._lock:
                self._release(network_name, container_id)
                self._delete_link(host_ifname)
            raise
        return Attachment(ip=ip, mac=mac, ifname=ifname, host_ifname=host_ifname, gateway=info.gateway,
                          network=network_name)

    def _bridge(self, info: NetworkInfo, fresh: bool = False) -> int:
        """The bridge's ifindex, remembered (looked up again when a request finds it stale)."""
        if fresh or info.bridge not in self._bridge_index:
            found = self.ipr.link_lookup(ifname=info.bridge)
            if not found:
                raise NetworkError(f"bridge {info.bridge} of network {info.name} is missing")
            self._bridge_index[info.bridge] = found[0]
        return self._bridge_index[info.bridge]

    def _plumb(self, pid: int, info: NetworkInfo, bridge: int, ip: str, host_ifname: str, ifname: str,
               default_route: bool) -> str:
        # One request: host end up on the bridge, peer created inside the container's netns (whose
        # `lo` the container's own setup brings up), both at the network's MTU so the container's
        # TCP MSS fits the uplink.
        try:
            netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise NetworkError(f"cannot create the veth of process {pid} on {info.name}: {exc}") from exc
        try:
            with Rtnl() as host, self._rtnl_turn:
                try:
                    host.add_veth(host_ifname, ifname, netns, bridge, info.mtu)
                except NetlinkFailure as exc:
                    if exc.errno == EEXIST:
                        with self._lock:
                            self._delete_link(host_ifname)  # a stale end left by a crashed attempt
                    elif exc.errno in (ENODEV, EINVAL):
                        with self._lock:
                            bridge = self._bridge(info, fresh=True)  # the bridge was re-created
                    else:
                        raise
                    host.add_veth(host_ifname, ifname, netns, bridge, info.mtu)
        except OSError as exc:
            raise NetworkError(f"cannot create the veth of process {pid} on {info.name}: {exc}") from exc
        finally:
            os.close(netns)
        with self._rtnl_turn:
            sysctl.tune_bridge_port(host_ifname)
        prefix = ipaddress.ip_network(info.subnet).prefixlen
        try:
            with Rtnl(netlink_socket_in(pid, also=lambda: sysctl.tune_container_interface(ifname))) as inside:
                link = inside.link(ifname)
                inside.configure(link.index, ip, prefix, info.gateway if default_route else None)
                return link.mac
        except OSError as exc:
            raise NetworkError(f"cannot configure {ifname} in the container: {exc}") from exc

    def disconnect(self, container_id: str, network_name: str) -> None:
        """Release the address; the veth goes with the container's netns, or now if it is still there."""
        with self._lock:
            self._release(network_name, container_id)
            self._delete_link(self.layout.veth_name(container_id, network_name))

    def _release(self, network_name: str, container_id: str) -> None:
        with self.state.locked() as state:
            raw = state["networks"].get(network_name)
            if raw is not None:
                raw["allocations"] = {ip: c for ip, c in raw["allocations"].items() if c != container_id}
                if not raw.get("icc", True):
                    self._apply(state)

    def _delete_link(self, ifname: str) -> None:
        self._bridge_index.pop(ifname, None)
        for index in self.ipr.link_lookup(ifname=ifname):
            try:
                self.ipr.link("del", index=index)
            except NetlinkError as exc:
                if exc.code != ENODEV:
                    raise NetworkError(f"cannot delete {ifname}: {exc}") from exc

    # --- published ports ------------------------------------------------------------------------------
    def check_ports(self, key: str, bindings: list[PortBinding],
                    listening: dict[str, set[int]] | None = None) -> None:
        """Refuse ports given twice, held by another key, or listened on by a host process.

        ``listening`` (protocol → ports) is filled on first use and may be shared by the checks of
        one pre-flight: reading /proc/net/tcp walks the kernel's whole socket hash (~3 ms a file).
        """
        listening = {} if listening is None else listening
        _check_bindings(bindings)
        with self._lock:
            state = self.state.read()
        mine = {(ob["protocol"], ob["host_port"]) for ob in state["ports"].get(key, {}).get("bindings", [])}
        seen: set[tuple[str, int]] = set()
        for b in bindings:
            ident = (b.protocol, b.host_port)
            if ident in seen:
                raise PortConflict(f"port {b.host_port}/{b.protocol} is published twice by {key}")
            seen.add(ident)
            for other, entry in sorted(state["ports"].items()):
                if other != key and any((ob["protocol"], ob["host_port"]) == ident
                                        and _ips_overlap(ob["host_ip"], b.host_ip) for ob in entry["bindings"]):
                    raise PortConflict(f"port {b.host_port}/{b.protocol} is already published by {other}")
            if b.protocol not in listening:
                listening[b.protocol] = listening_ports(b.protocol)
            if ident not in mine and b.host_port in listening[b.protocol]:
                raise PortConflict(f"port {b.host_port}/{b.protocol} is already in use by a host process")

    def allocate_host_port(self, protocol: str = "tcp", within: tuple[int, int] | None = None) -> int:
        """A free port: random in the ephemeral range, or the first free one of ``within``
        (a published range like `8000-8010:80`, as Docker picks) — used by no host process, no key."""
        if protocol not in PROTOCOLS:
            raise NetworkError(f"protocol {protocol!r} is not one of {PROTOCOLS}")
        with self._lock:
            held = {b["host_port"] for e in self.state.read()["ports"].values() for b in e["bindings"]
                    if b["protocol"] == protocol}
        used = listening_ports(protocol) | held
        if within is not None:
            free = next((p for p in range(within[0], within[1] + 1) if p not in used), None)
            if free is None:
                raise PortConflict(f"every {protocol} port of {within[0]}-{within[1]} is already in use")
            return free
        low, high = ephemeral_range()
        for _ in range(1000):
            port = random.randint(low, high)
            if port not in used:
                return port
        raise PortConflict(f"no free {protocol} host port in {low}-{high}")

    def publish(self, key: str, bindings: list[PortBinding], backends: list[str]) -> None:
        """Replace the key's rules with DNAT to ``backends``, in one transaction; [] keeps the port."""
        self.publish_all({key: (bindings, backends)})

    def publish_all(self, publications: dict[str, tuple[list[PortBinding], list[str]]]) -> None:
        """`publish` for several keys (a project's services) in one transaction: one nft call and
        one state write instead of one per service."""
        for key, (bindings, backends) in publications.items():
            _check_bindings(bindings)
            for ip in backends:
                try:
                    ipaddress.IPv4Address(ip)
                except ValueError as exc:
                    raise NetworkError(f"{key}: backend {ip!r} is not an IPv4 address") from exc
        with self._lock, self.state.locked() as state:
            self._change_all(state, {key: {"bindings": [asdict(b) for b in bindings], "backends": list(backends)}
                                     for key, (bindings, backends) in publications.items()})

    def _change_all(self, state: dict[str, Any], entries: dict[str, dict[str, Any]]) -> None:
        """Store the keys' new entries and apply them at once; stale UDP flows are forgotten after a change."""
        changed = {key: state["ports"].get(key) for key, entry in entries.items() if state["ports"].get(key) != entry}
        if not changed:
            return
        faults.point("network.publish")
        for key in changed:
            state["ports"][key] = entries[key]
        self._apply(state)
        for key, old in changed.items():
            entry = entries[key]
            active = entry["backends"]
            udp = [b["host_port"] for b in entry["bindings"] if b["protocol"] == "udp"]
            if udp and (old is None or _active(old) != active):
                forget_udp_flows(udp, active)

    def published_keys(self) -> list[str]:
        """The keys that have published ports now."""
        return sorted(self.state.read()["ports"])

    def unpublish(self, key: str) -> None:
        self.unpublish_all([key])

    def unpublish_all(self, keys: list[str]) -> None:
        """Forget the keys' ports and rules, in one transaction."""
        faults.point("network.unpublish")
        with self._lock, self.state.locked() as state:
            if [state["ports"].pop(key) for key in keys if key in state["ports"]]:
                self._apply(state)

    # --- nftables ---------------------------------------------------------------------------------
    def _apply(self, state: dict[str, Any]) -> None:
        networks = [_info(n, raw) for n, raw in state["networks"].items()]
        publications = [
            Publication(key, tuple(PortBinding(**b) for b in entry["bindings"]), tuple(_active(entry)))
            for key, entry in state["ports"].items()
        ]
        if not networks and not publications:
            self._nft_cmd(removal(self.layout.nft_table))
            return
        isolated = [self.layout.veth_name(cid, name) for name, raw in state["networks"].items()
                    if not raw.get("icc", True) for cid in set(raw["allocations"].values())]
        self._nft_cmd(render(self.layout.nft_table, networks, publications, self.outbound_nat, isolated))

    def _nft_cmd(self, text: str) -> None:
        rc, _out, err = self._nft.cmd(text)
        if rc != 0:
            raise NetworkError(f"nftables refused the ruleset: {err.strip()}")

    def cleanup_all(self) -> None:
        """Remove every bridge, veth, nft table and state file of this instance."""
        with self._lock:
            state = self.state.read()
            bridges = {raw["bridge"] for raw in state["networks"].values()}
            for name, raw in state["networks"].items():
                for cid in set(raw["allocations"].values()):
                    self._delete_link(self.layout.veth_name(cid, name))
            for link in self.ipr.get_links():  # bridges whose state was lost still carry the alias
                if link.get_attr("IFLA_IFALIAS") == self.alias:
                    bridges.add(str(link.get_attr("IFLA_IFNAME")))
            for bridge in sorted(bridges):
                self._delete_link(bridge)
            self._nft_cmd(removal(self.layout.nft_table))
            shutil.rmtree(self.layout.networks_dir, ignore_errors=True)
            self.close()


def _active(entry: dict[str, Any]) -> list[str]:
    """A published key's backends; one stored by an older pyorch may carry drain marks (those
    backends took no new connection then): the engine's next publish rewrites the entry."""
    draining = set(entry.get("draining", ()))
    return [ip for ip in entry["backends"] if ip not in draining]
