"""Subnet choice and address allocation (pure functions, no kernel)."""

from __future__ import annotations

import ipaddress
import re

import pytest

from runtime.network import NetworkError
from runtime.network.ipam import allocate, check_gateway, check_ip_range, check_subnet, default_gateway, pick_subnet


def nets(*cidrs: str) -> list[ipaddress.IPv4Network]:
    return [ipaddress.IPv4Network(c) for c in cidrs]


def test_first_free_24_of_the_pool_skips_what_the_host_uses() -> None:
    assert pick_subnet([]) == "10.89.0.0/24"
    assert pick_subnet(nets("10.89.0.0/24", "10.89.1.128/25")) == "10.89.2.0/24"


def test_reserved_host_ranges_are_never_picked_or_accepted() -> None:
    pool = ipaddress.IPv4Network("10.255.0.0/23")
    with pytest.raises(NetworkError, match="no free /24"):
        pick_subnet([], pool=pool)
    with pytest.raises(NetworkError, match=re.escape("overlaps 192.0.2.0/24")):
        check_subnet("192.0.2.0/25", [])
    with pytest.raises(NetworkError, match=re.escape("overlaps 10.89.0.0/24")):
        check_subnet("10.89.0.0/16", nets("10.89.0.0/24"))


def test_bad_subnets_are_refused_with_the_reason() -> None:
    with pytest.raises(NetworkError, match="invalid subnet"):
        check_subnet("10.1.2.3/24", [])  # host bits set
    with pytest.raises(NetworkError, match="only IPv4"):
        check_subnet("fd00::/64", [])


def test_gateway_is_the_first_host_unless_given_inside_the_subnet() -> None:
    assert default_gateway("10.89.3.0/24") == "10.89.3.1"
    assert check_gateway("10.89.3.0/24", "10.89.3.254") == "10.89.3.254"
    for bad in ("10.89.4.1", "10.89.3.0", "10.89.3.255", "nope"):
        with pytest.raises(NetworkError):
            check_gateway("10.89.3.0/24", bad)


def test_allocation_skips_the_gateway_and_taken_addresses_and_rotates() -> None:
    taken = {"10.89.0.2": "a", "10.89.0.3": "b"}
    assert allocate("10.89.0.0/24", "10.89.0.1", taken, last="10.89.0.3") == "10.89.0.4"
    # freed addresses rest: after 10.89.0.9 comes .10 even though .5 is free
    assert allocate("10.89.0.0/24", "10.89.0.1", taken, last="10.89.0.9") == "10.89.0.10"
    # wrap around at the end of the subnet, never to the gateway
    assert allocate("10.89.0.0/29", "10.89.0.1", taken, last="10.89.0.6") == "10.89.0.4"


def test_a_full_subnet_and_bad_explicit_addresses_are_errors() -> None:
    full = {f"10.89.0.{i}": str(i) for i in range(2, 7)}
    with pytest.raises(NetworkError, match="no free address"):
        allocate("10.89.0.0/29", "10.89.0.1", full, last=None)
    with pytest.raises(NetworkError, match="already in use"):
        allocate("10.89.0.0/24", "10.89.0.1", {}, None, wanted="10.89.0.1")
    with pytest.raises(NetworkError, match="not usable"):
        allocate("10.89.0.0/24", "10.89.0.1", {}, None, wanted="10.89.1.5")
    assert allocate("10.89.0.0/24", "10.89.0.1", {}, None, wanted="10.89.0.200") == "10.89.0.200"


def test_ip_range_bounds_dynamic_addresses_but_not_explicit_ones() -> None:
    taken: dict[str, str] = {}
    first = allocate("10.7.0.0/24", "10.7.0.1", taken, None, ip_range="10.7.0.128/30")
    assert first == "10.7.0.128"
    taken[first] = "a"
    got = [allocate("10.7.0.0/24", "10.7.0.1", {**taken}, first, ip_range="10.7.0.128/30")]
    taken[got[0]] = "b"
    got.append(allocate("10.7.0.0/24", "10.7.0.1", taken, got[0], ip_range="10.7.0.128/30"))
    taken[got[1]] = "c"
    assert got == ["10.7.0.129", "10.7.0.130"]
    taken["10.7.0.131"] = "d"
    with pytest.raises(NetworkError, match="no free address"):
        allocate("10.7.0.0/24", "10.7.0.1", taken, None, ip_range="10.7.0.128/30")
    # An explicit address outside the range but inside the subnet is still honoured (as in Docker).
    assert allocate("10.7.0.0/24", "10.7.0.1", taken, None, "10.7.0.9", ip_range="10.7.0.128/30") == "10.7.0.9"


def test_ip_range_must_be_a_network_inside_the_subnet() -> None:
    assert check_ip_range("10.7.0.0/24", "10.7.0.64/26") == "10.7.0.64/26"
    with pytest.raises(NetworkError, match="not inside the subnet"):
        check_ip_range("10.7.0.0/24", "10.8.0.0/26")
    with pytest.raises(NetworkError, match="invalid ip_range"):
        check_ip_range("10.7.0.0/24", "10.7.0.65/26")


def test_allocation_wraps_around_and_never_hands_out_network_broadcast_or_gateway() -> None:
    assert allocate("10.7.1.0/30", "10.7.1.1", {}, None) == "10.7.1.2"
    with pytest.raises(NetworkError, match="no free address"):
        allocate("10.7.1.0/30", "10.7.1.1", {"10.7.1.2": "a"}, "10.7.1.2")
    assert allocate("10.7.2.0/24", "10.7.2.1", {"10.7.2.2": "a"}, "10.7.2.254") == "10.7.2.3"  # wrapped
