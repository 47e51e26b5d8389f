"""Resource limits in kernel units, the conversions both drivers share, and up-front validation.

Field meanings follow Docker's API (what Compose files are translated into): ``None`` leaves a
limit untouched, ``memory_swap`` is memory *plus* swap, ``-1`` lifts a limit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from runtime.cgroups.errors import InvalidResources

CFS_PERIOD_US = 100_000           # Docker's period for `cpus:`
MIN_MEMORY = 6 * 1024 * 1024      # Docker refuses less; a runtime cannot start below it anyway
MIN_CFS_US, MAX_CFS_PERIOD_US = 1_000, 1_000_000   # kernel bounds (kernel/sched/core.c)
MIN_SHARES, MAX_SHARES = 2, 262_144                 # v1 cpu.shares clamps outside these
UNLIMITED = -1


@dataclass(frozen=True)
class Resources:
    memory_limit: int | None = None          # bytes; -1 unlimited
    memory_reservation: int | None = None    # bytes (v1 soft limit / v2 memory.low)
    memory_swap: int | None = None           # bytes of memory + swap; None → 2 × memory; -1 unlimited
    nano_cpus: int | None = None             # 1e9 = one CPU; 0 lifts the quota
    cpu_shares: int | None = None            # relative weight, 1024 = default
    cpu_quota: int | None = None             # µs per period (explicit form); -1 unlimited
    cpu_period: int | None = None            # µs
    cpuset_cpus: str | None = None           # "0-2,4"
    cpuset_mems: str | None = None
    pids_limit: int | None = None            # ≤ 0 unlimited (Docker's meaning)


@dataclass(frozen=True)
class CgroupStats:
    cpu_usage_ns: int
    memory_bytes: int
    memory_limit: int | None     # None: unlimited
    pids: int
    pids_limit: int | None       # None: unlimited


def cpu_quota_period(r: Resources) -> tuple[int, int] | None:
    """(quota µs, period µs) to write, quota -1 meaning unlimited; None when neither is set.

    ``cpus: N`` becomes period 100000 and quota N × 100000, as Docker computes it.
    """
    if r.nano_cpus is not None:
        if r.nano_cpus == 0:
            return UNLIMITED, CFS_PERIOD_US
        return r.nano_cpus * CFS_PERIOD_US // 1_000_000_000, CFS_PERIOD_US
    if r.cpu_quota is not None or r.cpu_period is not None:
        quota = r.cpu_quota if r.cpu_quota is not None and r.cpu_quota > 0 else UNLIMITED
        return quota, r.cpu_period or CFS_PERIOD_US
    return None


def shares_to_weight(shares: int) -> int:
    """v1 cpu.shares → v2 cpu.weight with the current quadratic mapping (1024 → 100, the default).

    The older linear formula mapped 1024 to 39, below the v2 default; runc and crun replaced it.
    """
    if shares == 0:
        return 0
    if shares <= MIN_SHARES:
        return 1
    if shares >= MAX_SHARES:
        return 10_000
    exponent = math.log2(shares)
    return math.ceil(10 ** ((exponent * exponent + 125 * exponent) / 612.0 - 7.0 / 34.0))


def memory_swap_total(r: Resources) -> int | None:
    """Memory + swap the container may use, or None to leave it alone; -1 unlimited.

    Docker defaults it to twice the memory limit when only the memory limit is given.
    """
    if r.memory_swap is not None:
        return r.memory_swap
    if r.memory_limit is not None and r.memory_limit > 0:
        return 2 * r.memory_limit
    if r.memory_limit == UNLIMITED:
        return UNLIMITED
    return None


def swap_only(memory: int, memory_and_swap: int) -> str:
    """cgroup v2 memory.swap.max: swap alone, i.e. memswap − memory ("max" when unlimited)."""
    if memory_and_swap == UNLIMITED or memory == UNLIMITED:
        return "max"
    return str(memory_and_swap - memory)


def pids_max(limit: int) -> str:
    return "max" if limit <= 0 else str(limit)


_CPU_LIST = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


def parse_cpu_list(text: str) -> set[int]:
    """The kernel's list format ("0-2,4") → the set of numbers; "" → empty set."""
    text = text.strip()
    if not text:
        return set()
    if not _CPU_LIST.match(text):
        raise InvalidResources(f"{text!r} is not a CPU/memory-node list like '0-2,4'")
    out: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        low, high = int(first), int(last or first)
        if high < low:
            raise InvalidResources(f"range {part!r} in {text!r} runs backwards")
        out.update(range(low, high + 1))
    return out


def validate(r: Resources) -> None:
    """Refuse what the kernel would reject or silently alter, before any file is written."""
    memory = r.memory_limit
    if memory is not None and memory != UNLIMITED and memory < MIN_MEMORY:
        raise InvalidResources(f"memory limit {memory} bytes is below the minimum of {MIN_MEMORY} (6 MiB)")
    if r.memory_reservation is not None:
        if r.memory_reservation < 0 and r.memory_reservation != UNLIMITED:
            raise InvalidResources(f"memory reservation {r.memory_reservation} must not be negative")
        if memory is not None and memory > 0 and r.memory_reservation > memory:
            raise InvalidResources(
                f"memory reservation {r.memory_reservation} is above the memory limit {memory}")
    swap = r.memory_swap
    if swap is not None and swap != UNLIMITED:
        if memory is None or memory <= 0:
            raise InvalidResources("memswap_limit needs a memory limit too")
        if swap < memory:
            raise InvalidResources(f"memswap_limit {swap} must be at least the memory limit {memory} "
                                   "(it counts memory plus swap)")
    if r.nano_cpus is not None:
        if r.cpu_quota is not None or r.cpu_period is not None:
            raise InvalidResources("cpus conflicts with cpu_quota/cpu_period: set one or the other")
        if r.nano_cpus < 0:
            raise InvalidResources(f"cpus {r.nano_cpus / 1e9:g} must not be negative")
        if 0 < r.nano_cpus * CFS_PERIOD_US // 1_000_000_000 < MIN_CFS_US:
            raise InvalidResources(f"cpus {r.nano_cpus / 1e9:g} is below the minimum of 0.01")
    if r.cpu_period is not None and not MIN_CFS_US <= r.cpu_period <= MAX_CFS_PERIOD_US:
        raise InvalidResources(f"cpu_period {r.cpu_period} must be between {MIN_CFS_US} and {MAX_CFS_PERIOD_US} µs")
    if r.cpu_quota is not None and r.cpu_quota > 0 and r.cpu_quota < MIN_CFS_US:
        raise InvalidResources(f"cpu_quota {r.cpu_quota} must be at least {MIN_CFS_US} µs (or -1)")
    if r.cpu_shares is not None and r.cpu_shares != 0 and not MIN_SHARES <= r.cpu_shares <= MAX_SHARES:
        raise InvalidResources(f"cpu_shares {r.cpu_shares} must be between {MIN_SHARES} and {MAX_SHARES}")
    for value in (r.cpuset_cpus, r.cpuset_mems):
        if value is not None:
            parse_cpu_list(value)
