"""The rendered nftables text: what each published port, network and option produces."""

from __future__ import annotations

from runtime.network.model import NetworkInfo, PortBinding
from runtime.network.ruleset import Publication, port_rules, render

NET = NetworkInfo("web", "pybaaa", "10.89.0.0/24", "10.89.0.1")
SEALED = NetworkInfo("db", "pybbbb", "10.89.1.0/24", "10.89.1.1", internal=True)


def test_several_backends_are_balanced_round_robin_and_host_and_hairpin_marked() -> None:
    pub = Publication("proj/web", (PortBinding(None, 8080, 80, "tcp"),), ("10.89.0.2", "10.89.0.3"))
    rules = port_rules(pub, ["pybaaa"])
    assert rules == [
        "tcp dport 8080 fib saddr type local meta mark set meta mark | 0x2000",
        'tcp dport 8080 iifname { "pybaaa" } meta mark set meta mark | 0x2000',
        "tcp dport 8080 dnat ip to numgen inc mod 2 map { 0 : 10.89.0.2 . 80, 1 : 10.89.0.3 . 80 } "
        'comment "proj/web"',
    ]


def test_one_backend_a_host_address_and_udp() -> None:
    pub = Publication("p/dns", (PortBinding("127.0.0.1", 5353, 53, "udp"),), ("10.89.0.9",))
    assert port_rules(pub, [])[-1] == 'ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.89.0.9:53 comment "p/dns"'


def test_no_backend_means_no_rule() -> None:
    assert port_rules(Publication("p/w", (PortBinding(None, 80, 80),), ()), ["pybaaa"]) == []


def test_keys_cannot_break_out_of_the_comment() -> None:
    pub = Publication('p/"; flush ruleset', (PortBinding(None, 80, 80),), ("10.89.0.2",))
    assert port_rules(pub, [])[-1].endswith('comment "p/___flush_ruleset"')


def test_outbound_nat_isolation_and_internal_networks() -> None:
    text = render("pyorch_t1", [NET, SEALED], [], outbound_nat=True)
    assert text.startswith("table ip pyorch_t1\ndelete table ip pyorch_t1\ntable bridge pyorch_t1\n"
                           "delete table bridge pyorch_t1\ntable ip pyorch_t1 {")
    assert 'ip saddr 10.89.0.0/24 oifname != "pybaaa" ip daddr != 224.0.0.0/4 masquerade' in text
    assert "10.89.1.0/24" not in text  # an internal network is never masqueraded out
    assert 'oifname { "pybbbb", "pybaaa" } ct status dnat accept' in text
    assert 'oifname { "pybbbb", "pybaaa" } drop' in text
    assert 'iifname { "pybbbb" } drop' in text
    assert "masquerade" not in render("t", [NET], [], outbound_nat=False).replace(
        "meta mark & 0x2000 == 0x2000 masquerade", "")


def test_traffic_within_a_network_is_accepted_for_bridge_netfilter() -> None:
    """With bridge netfilter on, frames inside a bridge reach forward with the bridge as both ends."""
    text = render("t", [NET, SEALED], [])
    accept = 'iifname . oifname { "pybbbb" . "pybbbb", "pybaaa" . "pybaaa" } accept'
    assert accept in text
    forward = text[text.index("chain forward"):]
    assert forward.index(accept) < forward.index('oifname { "pybbbb", "pybaaa" } drop')
    assert "table bridge t {" not in text and "chain published" not in text  # only for ICC off


def test_icc_off_drops_at_layer_2_except_arp_and_published_traffic() -> None:
    quiet = NetworkInfo("quiet", "pybccc", "10.89.2.0/24", "10.89.2.1", icc=False)
    text = render("t", [NET, quiet], [], isolated_ports=["pyv2", "pyv1"])
    assert '"pybccc" . "pybccc"' not in text and '"pybaaa" . "pybaaa"' in text
    assert 'iifname { "pybccc" } ct status dnat meta mark set meta mark | 0x1000' in text
    bridge = text[text.index("table bridge t {"):]
    assert bridge.splitlines()[2:5] == [
        '    iifname { "pyv1", "pyv2" } ether type arp accept',
        '    iifname { "pyv1", "pyv2" } meta mark & 0x1000 == 0x1000 accept',
        '    iifname { "pyv1", "pyv2" } drop',
    ]
    assert "table bridge t {" not in render("t", [NET, quiet], [])  # no port yet: nothing to drop
