"""cgroup v1: how `Resources` become writes in the per-controller hierarchies, and how to read back.

Pure planning (resources → ordered (file, value) list) is separate from I/O so that the
ordering rules are unit-tested without a kernel.
"""

from __future__ import annotations

from pathlib import Path

from runtime.cgroups import fs
from runtime.cgroups.errors import CgroupError
from runtime.cgroups.resources import (
    UNLIMITED,
    CgroupStats,
    Resources,
    cpu_quota_period,
    memory_swap_total,
    pids_max,
)

# v1 reports "unlimited" as PAGE_COUNTER_MAX pages, which is this large on every architecture.
_UNLIMITED_FLOOR = 1 << 62


def memory_plan(memory: Path, r: Resources, current_limit: int | None, has_swap_accounting: bool) -> list[fs.Write]:
    """Writes for memory limit and memory+swap, ordered so the kernel's rule memsw ≥ limit holds
    after each write (runc ``setMemoryAndSwap``): when the new memsw is unlimited or above the
    current limit, memsw goes first; otherwise the limit goes first.
    """
    limit_file, memsw_file = memory / "memory.limit_in_bytes", memory / "memory.memsw.limit_in_bytes"
    limit = r.memory_limit
    swap = memory_swap_total(r) if has_swap_accounting else None
    out: list[fs.Write] = []
    if limit is not None and swap is not None:
        current = current_limit if current_limit is not None else _UNLIMITED_FLOOR
        if swap == UNLIMITED or current < swap:
            out += [(memsw_file, str(swap)), (limit_file, str(limit))]
        else:
            out += [(limit_file, str(limit)), (memsw_file, str(swap))]
    elif limit is not None:
        out.append((limit_file, str(limit)))
    elif swap is not None:
        out.append((memsw_file, str(swap)))
    if r.memory_reservation is not None:
        out.append((memory / "memory.soft_limit_in_bytes", str(r.memory_reservation)))
    return out


def plan(r: Resources, dirs: dict[str, Path], current_memory_limit: int | None = None,
         has_swap_accounting: bool = True) -> list[fs.Write]:
    """Every write for ``r`` over the container's v1 leaf directories (controller → directory)."""
    out: list[fs.Write] = []
    if "cpuset" in dirs:
        if r.cpuset_cpus is not None:
            out.append((dirs["cpuset"] / "cpuset.cpus", r.cpuset_cpus))
        if r.cpuset_mems is not None:
            out.append((dirs["cpuset"] / "cpuset.mems", r.cpuset_mems))
    if "memory" in dirs:
        out += memory_plan(dirs["memory"], r, current_memory_limit, has_swap_accounting)
    if "cpu" in dirs:
        quota_period = cpu_quota_period(r)
        if quota_period is not None:
            quota, period = quota_period
            out += [(dirs["cpu"] / "cpu.cfs_period_us", str(period)), (dirs["cpu"] / "cpu.cfs_quota_us", str(quota))]
        if r.cpu_shares:
            out.append((dirs["cpu"] / "cpu.shares", str(r.cpu_shares)))
    if "pids" in dirs and r.pids_limit is not None:
        out.append((dirs["pids"] / "pids.max", pids_max(r.pids_limit)))
    return out


def missing_controllers(r: Resources, dirs: dict[str, Path]) -> list[str]:
    """Controllers ``r`` needs that the host has not mounted."""
    needed = {
        "memory": r.memory_limit is not None or r.memory_reservation is not None or r.memory_swap is not None,
        "cpu": r.nano_cpus is not None or r.cpu_quota is not None or r.cpu_period is not None or bool(r.cpu_shares),
        "cpuset": r.cpuset_cpus is not None or r.cpuset_mems is not None,
        "pids": r.pids_limit is not None,
    }
    return [c for c, wanted in needed.items() if wanted and c not in dirs]


def set_limits(r: Resources, dirs: dict[str, Path]) -> None:
    memory = dirs.get("memory")
    current = fs.read_int(memory / "memory.limit_in_bytes") if memory else None
    has_swap = memory is not None and (memory / "memory.memsw.limit_in_bytes").exists()
    fs.apply(plan(r, dirs, current, has_swap))
    if r.cpu_shares and "cpu" in dirs:
        # The kernel clamps out-of-range shares silently; runc reads back and so do we.
        got = fs.read_int(dirs["cpu"] / "cpu.shares")
        if got != r.cpu_shares:
            raise CgroupError(f"cpu.shares {r.cpu_shares} was changed by the kernel to {got}")


def oom_kill_count(memory: Path) -> int:
    """``oom_kill`` in memory.oom_control (kernel ≥ 4.13), what runc reports as OOMKillCount."""
    return fs.read_keyed(memory / "memory.oom_control").get("oom_kill", 0)


def _limit(value: int | None) -> int | None:
    return None if value is None or value >= _UNLIMITED_FLOOR else value


def stats(dirs: dict[str, Path]) -> CgroupStats:
    acct, memory, pids = dirs.get("cpuacct"), dirs.get("memory"), dirs.get("pids")
    return CgroupStats(
        cpu_usage_ns=(fs.read_int(acct / "cpuacct.usage") or 0) if acct else 0,
        memory_bytes=(fs.read_int(memory / "memory.usage_in_bytes") or 0) if memory else 0,
        memory_limit=_limit(fs.read_int(memory / "memory.limit_in_bytes")) if memory else None,
        pids=(fs.read_int(pids / "pids.current") or 0) if pids else 0,
        pids_limit=fs.read_int(pids / "pids.max") if pids else None,
    )


def freeze(freezer: Path, timeout: float = 5.0) -> None:
    """FROZEN is only reached when every task stopped; FREEZING is read in between."""
    state = freezer / "freezer.state"
    fs.write(state, "FROZEN")
    if not fs.wait_until(lambda: fs.read(state) == "FROZEN", timeout):
        fs.write(state, "THAWED")
        raise CgroupError(f"cgroup {freezer} did not freeze within {timeout:g} s")


def thaw(freezer: Path) -> None:
    fs.write(freezer / "freezer.state", "THAWED")


def frozen(freezer: Path) -> bool:
    return fs.read(freezer / "freezer.state") == "FROZEN"
