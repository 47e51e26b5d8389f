"""Conversions and validation of Resources (runtime.md §3.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.cgroups import InvalidResources, Resources, shares_to_weight
from runtime.cgroups.resources import (
    cpu_quota_period,
    memory_swap_total,
    parse_cpu_list,
    pids_max,
    swap_only,
    validate,
)

MiB = 1024 * 1024


@pytest.mark.parametrize(("shares", "weight"), [
    (0, 0), (1, 1), (2, 1), (1024, 100), (262144, 10000), (300000, 10000), (512, 59), (2048, 174), (128, 21),
])
def test_shares_to_weight_quadratic_mapping(shares: int, weight: int) -> None:
    assert shares_to_weight(shares) == weight


@given(st.integers(min_value=2, max_value=262143))
def test_weight_is_monotonic_and_in_range(shares: int) -> None:
    assert 1 <= shares_to_weight(shares) <= shares_to_weight(shares + 1) <= 10000


@pytest.mark.parametrize(("resources", "expected"), [
    (Resources(nano_cpus=1_500_000_000), (150_000, 100_000)),
    (Resources(nano_cpus=10_000_000), (1_000, 100_000)),
    (Resources(nano_cpus=0), (-1, 100_000)),
    (Resources(cpu_quota=50_000), (50_000, 100_000)),
    (Resources(cpu_quota=20_000, cpu_period=50_000), (20_000, 50_000)),
    (Resources(cpu_quota=-1, cpu_period=50_000), (-1, 50_000)),
    (Resources(), None),
])
def test_cpu_quota_period(resources: Resources, expected: tuple[int, int] | None) -> None:
    assert cpu_quota_period(resources) == expected


def test_memory_swap_defaults_to_twice_memory() -> None:
    assert memory_swap_total(Resources(memory_limit=100 * MiB)) == 200 * MiB
    assert memory_swap_total(Resources(memory_limit=100 * MiB, memory_swap=-1)) == -1
    assert memory_swap_total(Resources(memory_limit=100 * MiB, memory_swap=150 * MiB)) == 150 * MiB
    assert memory_swap_total(Resources(memory_limit=-1)) == -1
    assert memory_swap_total(Resources()) is None


def test_v2_swap_is_memswap_minus_memory() -> None:
    assert swap_only(100, 300) == "200"
    assert swap_only(100, 100) == "0"
    assert swap_only(100, -1) == "max"
    assert swap_only(-1, -1) == "max"


def test_pids_max() -> None:
    assert pids_max(100) == "100"
    assert pids_max(0) == "max"
    assert pids_max(-1) == "max"


def test_cpu_lists() -> None:
    assert parse_cpu_list("0-2,4") == {0, 1, 2, 4}
    assert parse_cpu_list("") == set()
    for bad in ("a", "0-", "1,,2", "3-1"):
        with pytest.raises(InvalidResources):
            parse_cpu_list(bad)


@pytest.mark.parametrize(("resources", "message"), [
    (Resources(memory_limit=1 * MiB), "below the minimum"),
    (Resources(memory_limit=0), "below the minimum"),
    (Resources(memory_limit=100 * MiB, memory_swap=50 * MiB), "at least the memory limit"),
    (Resources(memory_swap=50 * MiB), "needs a memory limit"),
    (Resources(memory_limit=10 * MiB, memory_reservation=20 * MiB), "above the memory limit"),
    (Resources(nano_cpus=1_000_000), "below the minimum of 0.01"),
    (Resources(nano_cpus=-5), "negative"),
    (Resources(nano_cpus=1_000_000_000, cpu_quota=50_000), "conflicts"),
    (Resources(cpu_period=500), "cpu_period"),
    (Resources(cpu_period=2_000_000), "cpu_period"),
    (Resources(cpu_quota=10), "cpu_quota"),
    (Resources(cpu_shares=1), "cpu_shares"),
    (Resources(cpu_shares=300_000), "cpu_shares"),
    (Resources(cpuset_cpus="0-x"), "list"),
])
def test_refused_before_writing(resources: Resources, message: str) -> None:
    with pytest.raises(InvalidResources, match=message):
        validate(resources)


@pytest.mark.parametrize("resources", [
    Resources(),
    Resources(memory_limit=6 * MiB),
    Resources(memory_limit=-1, memory_swap=-1),
    Resources(memory_limit=100 * MiB, memory_swap=100 * MiB, memory_reservation=50 * MiB),
    Resources(nano_cpus=10_000_000, cpu_shares=2, pids_limit=0, cpuset_cpus="0", cpuset_mems="0"),
    Resources(cpu_quota=-1, cpu_period=1000, cpu_shares=262144),
])
def test_accepted(resources: Resources) -> None:
    validate(resources)
