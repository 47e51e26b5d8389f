"""Write plans: which files get which values, in which order (no kernel needed)."""

from __future__ import annotations

from pathlib import Path

from runtime.cgroups import Resources, v1, v2

MiB = 1024 * 1024
MEM = Path("/cg/memory/p/c")
LIMIT, MEMSW = MEM / "memory.limit_in_bytes", MEM / "memory.memsw.limit_in_bytes"
V1_UNLIMITED = 9223372036854771712


def test_fresh_cgroup_writes_the_limit_before_memsw() -> None:
    plan = v1.memory_plan(MEM, Resources(memory_limit=64 * MiB), V1_UNLIMITED, True)
    assert plan == [(LIMIT, str(64 * MiB)), (MEMSW, str(128 * MiB))]


def test_raising_above_the_current_limit_writes_memsw_first() -> None:
    plan = v1.memory_plan(MEM, Resources(memory_limit=256 * MiB, memory_swap=300 * MiB), 64 * MiB, True)
    assert plan == [(MEMSW, str(300 * MiB)), (LIMIT, str(256 * MiB))]


def test_lowering_writes_the_limit_first() -> None:
    plan = v1.memory_plan(MEM, Resources(memory_limit=32 * MiB, memory_swap=40 * MiB), 256 * MiB, True)
    assert plan == [(LIMIT, str(32 * MiB)), (MEMSW, str(40 * MiB))]


def test_unlimited_swap_goes_first() -> None:
    plan = v1.memory_plan(MEM, Resources(memory_limit=-1, memory_swap=-1), 64 * MiB, True)
    assert plan == [(MEMSW, "-1"), (LIMIT, "-1")]


def test_without_swap_accounting_swap_is_skipped() -> None:
    plan = v1.memory_plan(MEM, Resources(memory_limit=64 * MiB, memory_swap=-1), None, False)
    assert plan == [(LIMIT, str(64 * MiB))]


def test_v1_plan_covers_every_controller() -> None:
    dirs = {c: Path(f"/cg/{c}/p/c") for c in ("cpu", "cpuacct", "cpuset", "memory", "pids")}
    r = Resources(memory_reservation=8 * MiB, nano_cpus=250_000_000, cpu_shares=2048, cpuset_cpus="1",
                  pids_limit=-1)
    plan = {(p.name, value) for p, value in v1.plan(r, dirs)}
    assert plan == {("memory.soft_limit_in_bytes", str(8 * MiB)), ("cpu.cfs_period_us", "100000"),
                    ("cpu.cfs_quota_us", "25000"), ("cpu.shares", "2048"), ("cpuset.cpus", "1"),
                    ("pids.max", "max")}
    assert v1.plan(Resources(), dirs) == []


def test_v1_missing_controllers() -> None:
    dirs = {"memory": MEM}
    assert v1.missing_controllers(Resources(memory_limit=64 * MiB, pids_limit=3, cpu_shares=100), dirs) == \
        ["cpu", "pids"]
    assert v1.missing_controllers(Resources(cpu_shares=0), dirs) == []


def test_v2_plan_in_runc_order() -> None:
    leaf = Path("/cg/p/c")
    r = Resources(memory_limit=64 * MiB, memory_reservation=16 * MiB, nano_cpus=1_500_000_000, cpu_shares=1024,
                  cpuset_cpus="0-1", cpuset_mems="0", pids_limit=50)
    assert [(p.name, value) for p, value in v2.plan(r, leaf)] == [
        ("pids.max", "50"),
        ("memory.swap.max", str(64 * MiB)),
        ("memory.max", str(64 * MiB)),
        ("memory.low", str(16 * MiB)),
        ("cpu.max", "150000 100000"),
        ("cpu.weight", "100"),
        ("cpuset.cpus", "0-1"),
        ("cpuset.mems", "0"),
    ]


def test_v2_unlimited_values() -> None:
    leaf = Path("/cg/p/c")
    r = Resources(memory_limit=-1, nano_cpus=0, pids_limit=0)
    assert [(p.name, value) for p, value in v2.plan(r, leaf)] == [
        ("pids.max", "max"), ("memory.swap.max", "max"), ("memory.max", "max"), ("cpu.max", "max 100000")]
    equal = Resources(memory_limit=64 * MiB, memory_swap=64 * MiB)
    assert (leaf / "memory.swap.max", "0") in v2.plan(equal, leaf)
    assert all(p.name != "memory.swap.max" for p, _ in v2.plan(equal, leaf, has_swap=False))
