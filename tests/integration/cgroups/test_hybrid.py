"""The cgroup interface on this host's real hierarchy (hybrid here; any mode works)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.cgroups import Cgroup, CgroupError, CgroupManager, InvalidResources, Resources
from runtime.layout import HostLayout

from .conftest import Spawn

pytestmark = pytest.mark.root
MiB = 1024 * 1024


def read(path: Path) -> str:
    return path.read_text().strip()


def test_mode_and_paths(mgr: CgroupManager, host: HostLayout) -> None:
    cg = mgr.create("c1", Resources())
    assert mgr.list() == ["c1"]
    for directory in cg.directories:
        assert directory.parent.name == host.cgroup_parent
        assert directory.parent.parent in mgr.layout.roots
    if mgr.mode == "hybrid":
        assert cg.unified is not None and cg.unified in cg.directories
        assert cg.v1_dirs["memory"] != cg.unified
    assert len(cg.procs_files) == len(set(cg.procs_files)) == len(cg.directories)


@pytest.mark.skipif("not Path('/sys/fs/cgroup/memory/memory.limit_in_bytes').exists()",
                    reason="limits are checked in the v1 files of a hybrid/v1 host")
def test_v1_limits_are_written(mgr: CgroupManager) -> None:
    cg = mgr.create("lim", Resources(memory_limit=64 * MiB, memory_reservation=32 * MiB, nano_cpus=500_000_000,
                                     cpu_shares=512, pids_limit=20, cpuset_cpus="0", cpuset_mems="0"))
    d = cg.v1_dirs
    assert read(d["memory"] / "memory.limit_in_bytes") == str(64 * MiB)
    assert read(d["memory"] / "memory.soft_limit_in_bytes") == str(32 * MiB)
    if (d["memory"] / "memory.memsw.limit_in_bytes").exists():
        assert read(d["memory"] / "memory.memsw.limit_in_bytes") == str(128 * MiB)
    assert read(d["cpu"] / "cpu.cfs_quota_us") == "50000"
    assert read(d["cpu"] / "cpu.cfs_period_us") == "100000"
    assert read(d["cpu"] / "cpu.shares") == "512"
    assert read(d["pids"] / "pids.max") == "20"
    assert read(d["cpuset"] / "cpuset.cpus") == "0"
    assert read(d["cpuset"] / "cpuset.mems") == "0"
    stats = cg.stats()
    assert stats.memory_limit == 64 * MiB and stats.pids_limit == 20


@pytest.mark.skipif("not Path('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes').exists()",
                    reason="needs v1 swap accounting")
def test_update_raises_and_lowers_memory_with_swap_in_a_valid_order(mgr: CgroupManager) -> None:
    cg = mgr.create("upd", Resources(memory_limit=64 * MiB, memory_swap=64 * MiB))
    memory = cg.v1_dirs["memory"]
    # raising past the current memsw would fail if the limit were written first
    cg.update(Resources(memory_limit=256 * MiB, memory_swap=300 * MiB))
    assert read(memory / "memory.limit_in_bytes") == str(256 * MiB)
    assert read(memory / "memory.memsw.limit_in_bytes") == str(300 * MiB)
    # lowering below the current limit would fail if memsw were written first
    cg.update(Resources(memory_limit=32 * MiB, memory_swap=40 * MiB))
    assert read(memory / "memory.limit_in_bytes") == str(32 * MiB)
    assert read(memory / "memory.memsw.limit_in_bytes") == str(40 * MiB)
    cg.update(Resources(memory_limit=-1, memory_swap=-1))
    assert cg.stats().memory_limit is None
    cg.update(Resources(cpu_quota=20_000, cpu_period=50_000))
    cg.update(Resources(nano_cpus=0))
    assert read(cg.v1_dirs["cpu"] / "cpu.cfs_quota_us") == "-1"


def test_create_is_idempotent_and_open_finds_it(mgr: CgroupManager) -> None:
    first = mgr.create("same", Resources(pids_limit=5))
    second = mgr.create("same", Resources(pids_limit=7))
    assert first.directories == second.directories
    opened = mgr.open("same")
    assert opened is not None and opened.directories == first.directories
    assert opened.stats().pids_limit == 7
    assert mgr.open("absent") is None


def test_refused_values_create_nothing(mgr: CgroupManager) -> None:
    with pytest.raises(InvalidResources):
        mgr.create("bad", Resources(memory_limit=1024))
    with pytest.raises(InvalidResources):
        mgr.create("bad", Resources(cpuset_cpus="0-4095"))
    assert mgr.list() == []
    with pytest.raises(CgroupError):
        mgr.create("../escape", Resources())


def test_child_joins_through_procs_files_and_kill_empties(mgr: CgroupManager, spawn: Spawn) -> None:
    cg = mgr.create("run", Resources())
    proc = spawn(["sleep", "300"], cg.procs_files)
    assert cg.pids() == [proc.pid]
    assert cg.populated()
    for procs in cg.procs_files:
        assert read(Path(procs)) == str(proc.pid)
    cg.kill()
    assert not cg.populated() and cg.pids() == []
    assert proc.wait() == -9
    cg.remove()
    assert mgr.list() == [] and all(not d.exists() for d in cg.directories)


def test_attach_from_the_parent_and_stats_move(mgr: CgroupManager, spawn: Spawn) -> None:
    cg = mgr.create("busy", Resources())
    before = cg.stats()
    assert before.pids == 0
    busy = (
        "import sys, time\nsys.stdin.readline()\nx = bytearray(16 << 20)\nend = time.process_time() + 0.3\n"
        "while time.process_time() < end: pass\nprint('ok', flush=True)\nsys.stdin.read()"
    )
    proc = spawn([sys.executable, "-c", busy], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    cg.attach(proc.pid)
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")  # start working only once inside
    proc.stdin.flush()
    assert proc.stdout is not None and proc.stdout.readline() == b"ok\n"
    after = cg.stats()
    assert after.pids == 1
    assert after.cpu_usage_ns > before.cpu_usage_ns
    assert after.memory_bytes > 0
    cg.kill()


def test_kill_takes_the_whole_process_tree(mgr: CgroupManager, spawn: Spawn) -> None:
    cg = mgr.create("tree", Resources())
    spawn(["sh", "-c", "sleep 300 & sleep 300 & wait"], cg.procs_files)
    deadline = time.monotonic() + 10
    while len(cg.pids()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(cg.pids()) == 3
    cg.kill()
    assert cg.pids() == []


def test_oom_kill_is_counted(mgr: CgroupManager, spawn: Spawn) -> None:
    cg = mgr.create("oom", Resources(memory_limit=32 * MiB, memory_swap=32 * MiB))
    assert cg.oom_kill_count() == 0
    proc = spawn([sys.executable, "-c", "b = bytearray(256 << 20); b[::4096] = b'x' * len(b[::4096])"],
                 cg.procs_files)
    assert proc.wait(timeout=60) == -9
    assert cg.oom_kill_count() >= 1


def test_pids_limit_stops_forks(mgr: CgroupManager, spawn: Spawn) -> None:
    cg = mgr.create("forks", Resources(pids_limit=4))
    forker = (
        "import os, sys\nn = 0\nfor _ in range(20):\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        os.read(0, 1); os._exit(0)\n    n += 1\n"
        "print(n, flush=True)\nos.read(0, 1)\n"
    )
    proc = spawn([sys.executable, "-c", forker], cg.procs_files, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"3\n"
    assert cg.stats().pids == 4
    cg.kill()


def test_freeze_and_thaw(mgr: CgroupManager, spawn: Spawn) -> None:
    cg = mgr.create("pause", Resources())
    proc = spawn(["sleep", "300"], cg.procs_files)
    cg.freeze()
    assert cg.frozen()
    state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    assert state in ("D", "S", "T")  # a frozen task sleeps in the freezer
    cg.thaw()
    assert not cg.frozen()
    # killing while frozen still works (v1 needs the thaw inside kill)
    cg.freeze()
    cg.kill()
    assert proc.wait() == -9
    cg.thaw()


def test_remove_takes_nested_cgroups_and_remove_parent_cleans_up(mgr: CgroupManager, host: HostLayout) -> None:
    cg = mgr.create("nest", Resources())
    for directory in cg.directories:
        (directory / "inner").mkdir()
    with pytest.raises(CgroupError):
        mgr.remove_parent()
    cg.remove()
    mgr.remove_parent()
    assert all(not (root / host.cgroup_parent).exists() for root in mgr.layout.roots)


def test_v1_kill_without_cgroup_kill_freezes_kills_and_thaws(mgr: CgroupManager, spawn: Spawn) -> None:
    made = mgr.create("v1kill", Resources())
    if "freezer" not in made.v1_dirs:
        pytest.skip("no v1 freezer on this host")
    # The same cgroup seen as on a pure v1 host: no cgroup2 leaf, so no cgroup.kill.
    cg = Cgroup("v1kill", "v1", made.v1_dirs, None)
    proc = spawn(["sh", "-c", "sleep 300 & echo started; wait"], cg.procs_files, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"started\n"
    assert len(cg.pids()) == 2 and cg.populated()
    cg.kill()
    assert cg.pids() == [] and not cg.frozen()
    assert proc.wait() == -9
    made.remove()
