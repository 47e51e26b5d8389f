"""cgroup v2: how `Resources` become writes in one unified directory, and how to read back.

Also the v2-only mechanics: enabling controllers down the tree, cgroup.kill, cgroup.freeze and
the events files. On hybrid hosts only the latter are used (limits stay on v1).
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
    shares_to_weight,
    swap_only,
)


def _bytes(value: int) -> str:
    return "max" if value == UNLIMITED else str(value)


def plan(r: Resources, leaf: Path, has_swap: bool = True) -> list[fs.Write]:
    """Writes in runc's v2 order (pids → memory → cpu → cpuset); ``has_swap``: memory.swap.max exists."""
    out: list[fs.Write] = []
    if r.pids_limit is not None:
        out.append((leaf / "pids.max", pids_max(r.pids_limit)))
    swap = memory_swap_total(r)
    if swap is not None and has_swap and r.memory_limit is not None:
        out.append((leaf / "memory.swap.max", swap_only(r.memory_limit, swap)))
    if r.memory_limit is not None:
        out.append((leaf / "memory.max", _bytes(r.memory_limit)))
    if r.memory_reservation is not None:
        out.append((leaf / "memory.low", _bytes(r.memory_reservation)))
    quota_period = cpu_quota_period(r)
    if quota_period is not None:
        quota, period = quota_period
        out.append((leaf / "cpu.max", f"{'max' if quota == UNLIMITED else quota} {period}"))
    if r.cpu_shares:
        out.append((leaf / "cpu.weight", str(shares_to_weight(r.cpu_shares))))
    if r.cpuset_cpus is not None:
        out.append((leaf / "cpuset.cpus", r.cpuset_cpus))
    if r.cpuset_mems is not None:
        out.append((leaf / "cpuset.mems", r.cpuset_mems))
    return out


def needed_controllers(r: Resources) -> list[str]:
    needed = {
        "memory": r.memory_limit is not None or r.memory_reservation is not None or r.memory_swap is not None,
        "cpu": r.nano_cpus is not None or r.cpu_quota is not None or r.cpu_period is not None or bool(r.cpu_shares),
        "cpuset": r.cpuset_cpus is not None or r.cpuset_mems is not None,
        "pids": r.pids_limit is not None,
    }
    return [c for c, wanted in needed.items() if wanted]


def enable_controllers(ancestors: list[Path], wanted: list[str]) -> None:
    """Make ``wanted`` usable in the leaf: each ancestor (root first) enables them for its children.

    All at once first; on refusal one by one, so one controller the kernel will not delegate here
    does not block the others (a limit that needs it then fails with a clear error).
    """
    for directory in ancestors:
        available = set(fs.read(directory / "cgroup.controllers").split())
        enabled = set(fs.read(directory / "cgroup.subtree_control").split())
        todo = [c for c in wanted if c in available and c not in enabled]
        if not todo:
            continue
        try:
            fs.write(directory / "cgroup.subtree_control", " ".join(f"+{c}" for c in todo))
        except CgroupError:
            for controller in todo:
                try:
                    fs.write(directory / "cgroup.subtree_control", f"+{controller}")
                except CgroupError:
                    continue


def set_limits(r: Resources, leaf: Path) -> None:
    fs.apply(plan(r, leaf, has_swap=(leaf / "memory.swap.max").exists()))


def oom_kill_count(leaf: Path) -> int:
    return fs.read_keyed(leaf / "memory.events").get("oom_kill", 0)


def stats(leaf: Path) -> CgroupStats:
    return CgroupStats(
        cpu_usage_ns=fs.read_keyed(leaf / "cpu.stat").get("usage_usec", 0) * 1000,
        memory_bytes=fs.read_int(leaf / "memory.current") or 0,
        memory_limit=fs.read_int(leaf / "memory.max"),
        pids=fs.read_int(leaf / "pids.current") or 0,
        pids_limit=fs.read_int(leaf / "pids.max"),
    )


def populated(leaf: Path) -> bool:
    return fs.read_keyed(leaf / "cgroup.events").get("populated", 0) == 1


def frozen(leaf: Path) -> bool:
    return fs.read_keyed(leaf / "cgroup.events").get("frozen", 0) == 1


def freeze(leaf: Path, timeout: float = 5.0) -> None:
    fs.write(leaf / "cgroup.freeze", "1")
    if not fs.wait_events(leaf / "cgroup.events", "frozen", 1, timeout):
        fs.write(leaf / "cgroup.freeze", "0")
        raise CgroupError(f"cgroup {leaf} did not freeze within {timeout:g} s")


def thaw(leaf: Path) -> None:
    fs.write(leaf / "cgroup.freeze", "0")


def has_kill(leaf: Path) -> bool:
    return (leaf / "cgroup.kill").exists()


def kill(leaf: Path) -> None:
    """SIGKILL the whole subtree in one write (kernel ≥ 5.14)."""
    fs.write(leaf / "cgroup.kill", "1")
