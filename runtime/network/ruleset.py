"""The nftables ruleset of one pyorch instance, rendered from state (pure).

The whole table is replaced in one transaction on every change (`table; delete table; table {…}`
in one libnftables call): atomic for new connections, while established ones keep their NAT
mapping in conntrack, so a replica removed from a port's set finishes its in-flight requests.
Only this instance's bridges are named, so instances side by side never touch each other.

Layout (table ``ip <instance>``):
- prerouting/output (nat, -100): packets to a local address jump to ``hostports``;
- hostports: per published port, mark packets from the host itself and from containers
  (hairpin) for masquerade, then DNAT to the ready backends, round robin (``numgen inc mod N``);
- postrouting (nat, 100): masquerade marked packets, and traffic leaving a non-internal network
  through another interface (outbound NAT);
- forward (filter, 0): into a network only replies and published (DNATed) traffic — no direct
  access from other hosts or other networks; internal networks send nothing beyond their bridge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.network.model import NetworkInfo, PortBinding

MASQ_MARK = "0x2000"  # the bit CNI portmap and netavark use for the same purpose
_COMMENT_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/@+=-]")


@dataclass(frozen=True)
class Publication:
    key: str
    bindings: tuple[PortBinding, ...]
    backends: tuple[str, ...]


def _names(bridges: list[str]) -> str:
    return "{ " + ", ".join(f'"{b}"' for b in bridges) + " }"


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


def render(table: str, networks: list[NetworkInfo], publications: list[Publication],
           outbound_nat: bool = True) -> str:
    nets = sorted(networks, key=lambda n: n.name)
    bridges = [n.bridge for n in nets]
    internal = [n.bridge for n in nets if n.internal]
    hostports = [r for pub in sorted(publications, key=lambda p: p.key) for r in port_rules(pub, bridges)]
    postrouting = [f"meta mark & {MASQ_MARK} == {MASQ_MARK} masquerade"]
    if outbound_nat:
        postrouting += [f'ip saddr {n.subnet} oifname != "{n.bridge}" ip daddr != 224.0.0.0/4 masquerade'
                        for n in nets if not n.internal]
    forward = ["ct state established,related accept"]
    if bridges:
        forward += [f"oifname {_names(bridges)} ct status dnat accept",
                    f"oifname {_names(bridges)} drop"]
    if internal:
        forward.append(f"iifname {_names(internal)} drop")
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
        *(f"    {r}" for r in forward),
        "  }",
        "}",
    ])
    return f"table ip {table}\ndelete table ip {table}\n{body}\n"


def removal(table: str) -> str:
    """Delete the table whether or not it exists (declaring it first makes the delete safe)."""
    return f"table ip {table}\ndelete table ip {table}\n"
