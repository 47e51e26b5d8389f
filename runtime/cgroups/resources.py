"""Resource limits in kernel units, and the conversions the cgroup drivers share."""

from __future__ import annotations

import math
from dataclasses import dataclass

CFS_PERIOD_US = 100_000


@dataclass(frozen=True)
class Resources:
    memory_limit: int | None = None          # bytes
    memory_reservation: int | None = None    # bytes (soft limit / memory.low)
    memory_swap: int | None = None           # bytes of memory + swap (Docker's meaning); -1 unlimited
    nano_cpus: int | None = None             # 1e9 = one CPU
    cpu_shares: int | None = None
    cpu_quota: int | None = None             # µs per period, explicit form
    cpu_period: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None


@dataclass(frozen=True)
class CgroupStats:
    cpu_usage_ns: int
    memory_bytes: int
    memory_limit: int | None
    pids: int
    pids_limit: int | None


def cpu_quota_period(r: Resources) -> tuple[int, int] | None:
    """``cpus: N`` → (quota, period) in µs, as Docker computes it (NanoCPUs × period / 1e9)."""
    if r.nano_cpus:
        return r.nano_cpus * CFS_PERIOD_US // 1_000_000_000, CFS_PERIOD_US
    if r.cpu_quota:
        return r.cpu_quota, r.cpu_period or CFS_PERIOD_US
    return None


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares → v2 cpu.weight with the current quadratic mapping (1024 → 100)."""
    if shares == 0:
        return 0
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    exponent = math.log2(shares)
    return math.ceil(10 ** ((exponent * exponent + 125 * exponent) / 612.0 - 7.0 / 34.0))


def memory_swap_total(r: Resources) -> int | None:
    """memory+swap the container may use: Docker defaults it to twice the memory limit."""
    if r.memory_swap is not None:
        return r.memory_swap
    if r.memory_limit:
        return 2 * r.memory_limit
    return None


def validate(r: Resources) -> None:
    from runtime.cgroups.errors import CgroupError

    if r.memory_limit is not None and 0 < r.memory_limit < 6 * 1024 * 1024:
        raise CgroupError(f"memory limit {r.memory_limit} is below the 6 MiB minimum")
    swap = r.memory_swap
    if swap not in (None, -1) and r.memory_limit and swap is not None and swap < r.memory_limit:
        raise CgroupError("memswap_limit must be at least mem_limit")
    if r.nano_cpus is not None and r.nano_cpus < 0:
        raise CgroupError("cpus must be positive")
    if r.pids_limit is not None and r.pids_limit == 0:
        raise CgroupError("pids_limit 0 would forbid the container's own init")
