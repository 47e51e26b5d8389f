"""Port bindings (fixed, ranges, random, persisted) and the network pre-flight checks (no kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.extra_hosts import with_host_gateway
from orchestrator.engine.netplan import check_networks, network_specs
from orchestrator.engine.ports import address_of, find_binding, service_bindings
from orchestrator.engine.store import Store
from orchestrator.errors import EngineError
from orchestrator.spec import LoadOptions, Project, load_project
from runtime.network import NetworkInfo, NetworkSpec, PortBinding


def load(tmp_path: Path, text: str) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return load_project(LoadOptions(working_dir=tmp_path, environ={}))


class Allocator:
    """Hands out ports like the network manager: first free of a range, else the next 'random' one."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, int] | None]] = []
        self.next_random = 50000

    def __call__(self, protocol: str, within: tuple[int, int] | None) -> int:
        self.calls.append((protocol, within))
        if within is not None:
            return within[0] + 1  # pretend the first port of the range is taken
        self.next_random += 1
        return self.next_random


def test_fixed_range_and_random_ports_are_chosen_once_and_kept(tmp_path: Path) -> None:
    project = load(tmp_path, """
services:
  web:
    image: x
    ports:
      - "127.0.0.1:8080:80"
      - "9000-9010:81"
      - "53/udp"
      - {target: 443, published: "8443", host_ip: 127.0.0.2}
""")
    store = Store(tmp_path / "db")
    alloc = Allocator()
    service = project.services["web"]
    # Before anything is chosen, the pre-flight sees only what is fixed.
    assert service_bindings(store, None, project.name, service) == [
        PortBinding("127.0.0.1", 8080, 80, "tcp"), PortBinding("127.0.0.2", 8443, 443, "tcp")]
    first = service_bindings(store, alloc, project.name, service)
    assert first == [PortBinding("127.0.0.1", 8080, 80, "tcp"), PortBinding(None, 9001, 81, "tcp"),
                     PortBinding(None, 50001, 53, "udp"), PortBinding("127.0.0.2", 8443, 443, "tcp")]
    assert alloc.calls == [("tcp", (9000, 9010)), ("udp", None)]
    assert service_bindings(store, alloc, project.name, service) == first  # persisted: no new choice
    assert len(alloc.calls) == 2
    assert address_of(find_binding(first, "web", 53, "udp")) == "0.0.0.0:50001"
    with pytest.raises(EngineError, match="publishes no tcp port 53"):
        find_binding(first, "web", 53, "tcp")


def test_a_changed_range_chooses_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    alloc = Allocator()
    before = load(tmp_path, "services:\n  web: {image: x, ports: ['9000-9010:81']}\n")
    assert service_bindings(store, alloc, before.name, before.services["web"])[0].host_port == 9001
    after = load(tmp_path, "services:\n  web: {image: x, ports: ['7000-7005:81']}\n")
    assert service_bindings(store, alloc, after.name, after.services["web"])[0].host_port == 7001


def test_network_specs_carry_ipam_internal_and_labels_and_skip_external(tmp_path: Path) -> None:
    project = load(tmp_path, """
name: p
services:
  a: {image: x, networks: [front, back, shared]}
networks:
  front:
    ipam: {config: [{subnet: 10.201.0.0/24, ip_range: 10.201.0.128/25, gateway: 10.201.0.254}]}
    labels: {tier: front}
  back: {internal: true}
  shared: {external: true, name: other_net}
  unused: {}
""")
    compose = {"com.docker.compose.project": "p"}
    assert network_specs(project) == [
        NetworkSpec("p_back", internal=True, labels={**compose, "com.docker.compose.network": "back"}),
        NetworkSpec("p_front", "10.201.0.0/24", "10.201.0.254", "10.201.0.128/25", False,
                    {"tier": "front", **compose, "com.docker.compose.network": "front"}),
    ]
    with pytest.raises(EngineError, match="network other_net declared as external, but could not be found"):
        check_networks(project, [])
    check_networks(project, [NetworkInfo("other_net", "pyb0", "10.202.0.0/24", "10.202.0.1")])


def test_bridge_driver_opts_set_icc_and_mtu(tmp_path: Path) -> None:
    project = load(tmp_path, """
name: p
services:
  a: {image: x, networks: [quiet, small, plain]}
networks:
  quiet: {driver_opts: {com.docker.network.bridge.enable_icc: "false"}}
  small: {driver: bridge, driver_opts: {com.docker.network.driver.mtu: 1280, com.docker.network.bridge.enable_icc: 1}}
  plain: {}
""")
    specs = {s.name: s for s in network_specs(project)}
    assert (specs["p_quiet"].icc, specs["p_quiet"].mtu) == (False, None)
    assert (specs["p_small"].icc, specs["p_small"].mtu) == (True, 1280)
    assert (specs["p_plain"].icc, specs["p_plain"].mtu) == (True, None)  # None: the uplink's MTU
    check_networks(project, [])


@pytest.mark.parametrize(("body", "message"), [
    ("services:\n  a: {image: x}\nnetworks:\n  default: {driver: overlay}\n", "driver 'overlay' is not supported"),
    ("services:\n  a: {image: x}\nnetworks:\n  default: {driver_opts: {com.docker.network.bridge.name: br9}}\n",
     "driver_opts com.docker.network.bridge.name not supported"),
    ("services:\n  a: {image: x, network_mode: bridge}\n", "network_mode 'bridge' is not supported"),
    ("services:\n  a: {image: x}\n  b: {image: x, network_mode: 'service:a', ports: ['80']}\n",
     "ports cannot be published with network_mode"),
    ("services:\n  a: {image: x, networks: {n: {ipv4_address: 10.1.2.3}}}\nnetworks:\n  n: {}\n",
     "needs a subnet"),
])
def test_unsupported_network_setups_are_refused_before_anything_starts(tmp_path: Path, body: str,
                                                                       message: str) -> None:
    with pytest.raises(EngineError, match=message):
        check_networks(load(tmp_path, body), [])


def test_host_gateway_names_the_host_as_the_container_sees_it() -> None:
    wanted = {"host.docker.internal": "host-gateway", "db.local": "10.0.0.5"}
    assert with_host_gateway(wanted, "10.89.0.1") == {"host.docker.internal": "10.89.0.1", "db.local": "10.0.0.5"}
    assert with_host_gateway(wanted, None) == {"db.local": "10.0.0.5"}  # network_mode none: nothing to reach
