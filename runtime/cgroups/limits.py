"""Writing limits: the v1 and v2 mappings of `Resources` to interface files (reference/runtime.md §3.1)."""

from __future__ import annotations

from pathlib import Path

from runtime.cgroups.resources import Resources, cpu_quota_period, memory_swap_total, shares_to_weight


def v1_writes(r: Resources, dirs: dict[str, Path]) -> list[tuple[Path, str]]:
    """(file, value) pairs in the order they must be written on a v1 hierarchy."""
    out: list[tuple[Path, str]] = []
    memory = dirs.get("memory")
    if memory is not None:
        if r.memory_limit:
            out.append((memory / "memory.limit_in_bytes", str(r.memory_limit)))
            swap = memory_swap_total(r)
            if swap is not None and (memory / "memory.memsw.limit_in_bytes").exists():
                out.append((memory / "memory.memsw.limit_in_bytes", str(swap)))
        if r.memory_reservation:
            out.append((memory / "memory.soft_limit_in_bytes", str(r.memory_reservation)))
    cpu = dirs.get("cpu")
    if cpu is not None:
        quota = cpu_quota_period(r)
        if quota is not None:
            out.append((cpu / "cpu.cfs_period_us", str(quota[1])))
            out.append((cpu / "cpu.cfs_quota_us", str(quota[0])))
        if r.cpu_shares:
            out.append((cpu / "cpu.shares", str(r.cpu_shares)))
    cpuset = dirs.get("cpuset")
    if cpuset is not None:
        if r.cpuset_cpus:
            out.append((cpuset / "cpuset.cpus", r.cpuset_cpus))
        if r.cpuset_mems:
            out.append((cpuset / "cpuset.mems", r.cpuset_mems))
    pids = dirs.get("pids")
    if pids is not None and r.pids_limit is not None:
        out.append((pids / "pids.max", "max" if r.pids_limit < 0 else str(r.pids_limit)))
    return out


def v2_writes(r: Resources, directory: Path) -> list[tuple[Path, str]]:
    """(file, value) pairs for a cgroup2 directory, in runc's order: pids, memory, cpu, cpuset."""
    out: list[tuple[Path, str]] = []
    if r.pids_limit is not None:
        out.append((directory / "pids.max", "max" if r.pids_limit < 0 else str(r.pids_limit)))
    if r.memory_limit:
        out.append((directory / "memory.max", str(r.memory_limit)))
        swap = memory_swap_total(r)
        if swap is not None and (directory / "memory.swap.max").exists():
            out.append((directory / "memory.swap.max", "max" if swap < 0 else str(max(0, swap - r.memory_limit))))
    if r.memory_reservation:
        out.append((directory / "memory.low", str(r.memory_reservation)))
    quota = cpu_quota_period(r)
    if quota is not None:
        out.append((directory / "cpu.max", f"{quota[0]} {quota[1]}"))
    if r.cpu_shares:
        out.append((directory / "cpu.weight", str(shares_to_weight(r.cpu_shares))))
    if r.cpuset_cpus:
        out.append((directory / "cpuset.cpus", r.cpuset_cpus))
    if r.cpuset_mems:
        out.append((directory / "cpuset.mems", r.cpuset_mems))
    return out
