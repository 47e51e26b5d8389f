"""The nftables ruleset of one pyorch instance, rendered from state (pure).

The whole table is replaced in one transaction on every change (`table; delete table; table {…}`
in one libnftables call): atomic for new connections, while established ones keep their NAT
mapping in conntrack, so a replica removed from a port's set finishes its in-flight requests.

Layout (table ``ip <instance>``):
- prerouting/output (nat, -100): packets to a local address jump to ``hostports``;
- hostports: per published port, mark local and hairpin sources for masquerade, then DNAT to
  the ready backends, round robin (``numgen inc mod N``) when there are several;
- postrouting (nat, 100): masquerade marked packets, and traffic leaving a non-internal network;
- forward (filter, 0): no traffic between different pyorch networks; internal networks reach
  nothing outside their bridge.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.network.model import NetworkInfo, PortBinding

MASQ_MARK = "0x2000"
BRIDGE_GLOB = '"pyb*"'


@dataclass(frozen=True)
class Publication:
    key: str
    bindings: tuple[PortBinding, ...]
    backends: tuple[str, ...]


def _target(backends: tuple[str, ...], port: int) -> str:
    if len(backends) == 1:
        return f"{backends[0]}:{port}"
    elements = ", ".join(f"{i} : {ip} . {port}" for i, ip in enumerate(backends))
    return f"numgen inc mod {len(backends)} map {{ {elements} }}"


def port_rules(pub: Publication) -> list[str]:
    rules = []
    for b in pub.bindings:
        if not pub.backends:
            continue  # nothing ready: the port refuses connections, but stays reserved
        match = f"{b.protocol} dport {b.host_port}"
        if b.host_ip and b.host_ip not in ("0.0.0.0", "::"):
            match = f"ip daddr {b.host_ip} {match}"
        comment = f'comment "{pub.key}"'
        rules.append(f"{match} fib saddr type local meta mark set meta mark | {MASQ_MARK}")
        rules.append(f"{match} iifname {BRIDGE_GLOB} meta mark set meta mark | {MASQ_MARK}")
        rules.append(f"{match} dnat ip to {_target(pub.backends, b.container_port)} {comment}")
    return rules


def render(table: str, networks: list[NetworkInfo], publications: list[Publication],
           outbound_nat: bool = True) -> str:
    hostports = [r for pub in sorted(publications, key=lambda p: p.key) for r in port_rules(pub)]
    postrouting = [f"meta mark & {MASQ_MARK} == {MASQ_MARK} masquerade"]
    forward = ["ct state established,related accept"]
    for net in sorted(networks, key=lambda n: n.name):
        br = f'"{net.bridge}"'
        if outbound_nat and not net.internal:
            postrouting.append(f"ip saddr {net.subnet} oifname != {br} masquerade")
        forward.append(f"iifname {br} oifname != {br} oifname {BRIDGE_GLOB} drop")
        if net.internal:
            forward.append(f"iifname {br} oifname != {br} drop")
            forward.append(f"oifname {br} iifname != {br} drop")
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
