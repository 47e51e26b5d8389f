"""The nftables ruleset of one pyorch instance, rendered from state (pure).

The whole ruleset is replaced in one transaction on every change (`table; delete table; table {…}`
in one libnftables call): atomic for new connections, while established ones keep their NAT
mapping in conntrack, so a replica removed from a port's set finishes its in-flight requests.
Only this instance's bridges and veths are named, so instances side by side never touch each other.

Rules must be right whether or not bridge netfilter is on (`net.bridge.bridge-nf-call-iptables`,
docs/networking.md): with it on, frames switched inside a bridge also traverse the ip hooks
(prerouting, forward, postrouting) with the bridge as both input and output interface; with it
off, they never do. So:

- table ``ip <instance>``:
  - prerouting/output (nat, -100): packets to a local address jump to ``hostports``;
  - hostports: per published port, mark packets from the host itself and from containers
    (hairpin) for masquerade, then DNAT to the ready backends, round robin (``numgen inc mod N``);
  - postrouting (nat, 100): masquerade marked packets, and traffic leaving a non-internal network
    through another interface (outbound NAT);
  - forward (filter, 0): within one network everything (only seen with bridge netfilter on);
    into a network only replies and published (DNATed) traffic — no direct access from other
    hosts or other networks; internal networks send nothing beyond their bridge;
  - published (filter, prerouting -90, only with ICC off somewhere): packets of DNATed
    connections arriving on such a bridge get ``PUBLISHED_MARK``, which the bridge table reads
    (it has no conntrack of its own on every kernel);
- table ``bridge <instance>`` (only with ICC off somewhere): forward (filter, -200) drops what
  one container of a network without inter-container communication sends to another at layer 2
  — except ARP and published traffic bridged back in (hairpin with bridge netfilter on). It runs
  before bridge netfilter's own forward hook, and whether or not that is on. Ports are matched
  by their veth names: the kernel's bridge-name match (``meta ibrname``) is optional.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from runtime.network.model import NetworkInfo, PortBinding

MASQ_MARK = "0x2000"       # the bit CNI portmap and netavark use for the same purpose
PUBLISHED_MARK = "0x1000"  # netavark's bit for DNATed traffic (it keeps it in the ct mark)
_COMMENT_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/@+=-]")


@dataclass(frozen=True)
class Publication:
    key: str
    bindings: tuple[PortBinding, ...]
    backends: tuple[str, ...]


def _names(names: Iterable[str]) -> str:
    return "{ " + ", ".join(f'"{n}"' for n in names) + " }"


def _target(backends: tuple[str, ...], port: int) -> str:
    if len(backends) == 1:
        return f"{backends[0]}:{port}"
    elements = ", ".join(f"{i} : {ip} . {port}" for i, ip in enumerate(backends))
    return f"numgen inc mod {len(backends)} map {{ {elements} }}"


def port_rules(pub: Publication, bridges: list[str]) -> list[str]:
    """Rules of one key; none when no backend is ready (the port refuses, but stays reserved)."""
    if not pub.backends:
        return []
    rules = []
    comment = f'comment "{_COMMENT_UNSAFE.sub("_", pub.key)}"'
    for b in pub.bindings:
        match = f"{b.protocol} dport {b.host_port}"
        if b.host_ip and b.host_ip not in ("0.0.0.0", "::"):
            match = f"ip daddr {b.host_ip} {match}"
        rules.append(f"{match} fib saddr type local meta mark set meta mark | {MASQ_MARK}")
        if bridges:
            rules.append(f"{match} iifname {_names(bridges)} meta mark set meta mark | {MASQ_MARK}")
        rules.append(f"{match} dnat ip to {_target(pub.backends, b.container_port)} {comment}")
    return rules


def forward_rules(networks: list[NetworkInfo]) -> list[str]:
    """The ip forward chain: what may be routed (or, with bridge netfilter, bridged) where."""
    bridges = [n.bridge for n in networks]
    internal = [n.bridge for n in networks if n.internal]
    within = [n.bridge for n in networks if n.icc]
    rules = ["ct state established,related accept"]
    if within:
        # Frames switched inside one bridge, seen here only with bridge netfilter on. Without
        # ICC the bridge table has dropped them already (and forward below drops the rest).
        pairs = ", ".join(f'"{b}" . "{b}"' for b in within)
        rules.append(f"iifname . oifname {{ {pairs} }} accept")
    if bridges:
        rules += [f"oifname {_names(bridges)} ct status dnat accept",
                  f"oifname {_names(bridges)} drop"]
    if internal:
        rules.append(f"iifname {_names(internal)} drop")
    return rules


def bridge_table(table: str, isolated_ports: list[str]) -> str:
    """The layer-2 ICC drop: no frame from one port of a no-ICC network to another, both with
    bridge netfilter on and off; ARP and published (DNATed, marked) traffic pass."""
    ports = _names(sorted(isolated_ports))
    return "\n".join([
        f"table bridge {table} {{",
        "  chain forward { type filter hook forward priority -200; policy accept;",
        f"    iifname {ports} ether type arp accept",
        f"    iifname {ports} meta mark & {PUBLISHED_MARK} == {PUBLISHED_MARK} accept",
        f"    iifname {ports} drop",
        "  }",
        "}",
    ])


def render(table: str, networks: list[NetworkInfo], publications: list[Publication],
           outbound_nat: bool = True, isolated_ports: Iterable[str] = ()) -> str:
    """The whole ruleset; ``isolated_ports`` are the host-side veths of networks without ICC."""
    nets = sorted(networks, key=lambda n: n.name)
    bridges = [n.bridge for n in nets]
    no_icc = [n.bridge for n in nets if not n.icc]
    ports = sorted(set(isolated_ports))
    hostports = [r for pub in sorted(publications, key=lambda p: p.key) for r in port_rules(pub, bridges)]
    postrouting = [f"meta mark & {MASQ_MARK} == {MASQ_MARK} masquerade"]
    if outbound_nat:
        postrouting += [f'ip saddr {n.subnet} oifname != "{n.bridge}" ip daddr != 224.0.0.0/4 masquerade'
                        for n in nets if not n.internal]
    published = []
    if no_icc:
        published = [
            "  chain published { type filter hook prerouting priority -90; policy accept;",
            f"    iifname {_names(no_icc)} ct status dnat meta mark set meta mark | {PUBLISHED_MARK}",
            "  }",
        ]
    body = "\n".join([
        f"table ip {table} {{",
        "  chain prerouting { type nat hook prerouting priority -100; policy accept; "
        "fib daddr type local jump hostports; }",
        "  chain output { type nat hook output priority -100; policy accept; "
        "fib daddr type local jump hostports; }",
        "  chain hostports {",
        *(f"    {r}" for r in hostports),
        "  }",
        "  chain postrouting { type nat hook postrouting priority 100; policy accept;",
        *(f"    {r}" for r in postrouting),
        "  }",
        "  chain forward { type filter hook forward priority 0; policy accept;",
        *(f"    {r}" for r in forward_rules(nets)),
        "  }",
        *published,
        "}",
    ])
    text = removal(table) + body + "\n"
    if no_icc and ports:
        text += bridge_table(table, ports) + "\n"
    return text


def removal(table: str) -> str:
    """Delete both tables whether or not they exist (declaring each first makes the delete safe)."""
    return (f"table ip {table}\ndelete table ip {table}\n"
            f"table bridge {table}\ndelete table bridge {table}\n")
