"""The v2 driver's limit writing on a fixture tree that carries the cgroup2 interface files.

The kernel creates a cgroup's interface files on mkdir; a plain directory cannot, so the fixture
lays out the files of the parent and leaf it expects pyorch to use (mkdir is idempotent).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cgroups import CgroupManager, ControllerUnavailable, InvalidResources, Resources, open_cgroups
from runtime.layout import HostLayout

MiB = 1024 * 1024
HOST = HostLayout(state_root=Path("/nonexistent"), run_root=Path("/nonexistent"), instance="tfixt01")
LEAF_FILES = {
    "cgroup.procs": "", "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.freeze": "0", "cgroup.kill": "",
    "cgroup.subtree_control": "",
    "memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "memory.current": "4096",
    "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
    "cpu.max": "max 100000", "cpu.weight": "100", "cpu.stat": "usage_usec 1500\nuser_usec 1000\n",
    "pids.max": "max", "pids.current": "2", "cpuset.cpus": "", "cpuset.mems": "",
    "cpuset.cpus.effective": "0-3", "cpuset.mems.effective": "0",
}


def make_tree(root: Path, controllers: str = "cpuset cpu io memory pids hugetlb", leaves: tuple[str, ...] = ()) -> None:
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text("")
    for directory in [root / HOST.cgroup_parent, *(root / HOST.cgroup_parent / leaf for leaf in leaves)]:
        directory.mkdir(exist_ok=True)
        (directory / "cgroup.controllers").write_text(controllers + "\n")
        for name, text in LEAF_FILES.items():
            (directory / name).write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    make_tree(tmp_path, leaves=("web",))
    return tmp_path


def manager(root: Path) -> CgroupManager:
    mgr = open_cgroups(HOST, root=root)
    assert mgr.mode == "v2"
    return mgr


def read(path: Path) -> str:
    return path.read_text().strip()


def test_create_writes_every_limit(tree: Path) -> None:
    cg = manager(tree).create("web", Resources(memory_limit=64 * MiB, memory_reservation=16 * MiB,
                                                nano_cpus=500_000_000, cpu_shares=512, cpuset_cpus="1-2",
                                                cpuset_mems="0", pids_limit=30))
    leaf = tree / HOST.cgroup_parent / "web"
    assert cg.unified == leaf and cg.v1_dirs == {}
    assert cg.procs_files == [str(leaf / "cgroup.procs")]
    assert read(leaf / "memory.max") == str(64 * MiB)
    assert read(leaf / "memory.swap.max") == str(64 * MiB)  # default memswap 2×memory, minus memory
    assert read(leaf / "memory.low") == str(16 * MiB)
    assert read(leaf / "cpu.max") == "50000 100000"
    assert read(leaf / "cpu.weight") == "59"
    assert read(leaf / "cpuset.cpus") == "1-2"
    assert read(leaf / "cpuset.mems") == "0"
    assert read(leaf / "pids.max") == "30"


def test_ancestors_enable_the_controllers_pyorch_uses(tree: Path) -> None:
    manager(tree).create("web", Resources())
    wanted = "+cpu +cpuset +memory +pids +io"
    assert read(tree / "cgroup.subtree_control") == wanted
    assert read(tree / HOST.cgroup_parent / "cgroup.subtree_control") == wanted
    assert read(tree / HOST.cgroup_parent / "web" / "cgroup.subtree_control") == ""  # never the leaf


def test_update_lifts_limits(tree: Path) -> None:
    cg = manager(tree).create("web", Resources(memory_limit=64 * MiB, nano_cpus=1_000_000_000))
    cg.update(Resources(memory_limit=-1, nano_cpus=0, pids_limit=-1))
    leaf = tree / HOST.cgroup_parent / "web"
    assert (read(leaf / "memory.max"), read(leaf / "memory.swap.max")) == ("max", "max")
    assert read(leaf / "cpu.max") == "max 100000"
    assert read(leaf / "pids.max") == "max"


def test_missing_swap_file_is_skipped(tree: Path) -> None:
    (tree / HOST.cgroup_parent / "web" / "memory.swap.max").unlink()
    manager(tree).create("web", Resources(memory_limit=64 * MiB, memory_swap=-1))
    assert read(tree / HOST.cgroup_parent / "web" / "memory.max") == str(64 * MiB)


def test_controller_not_offered_is_refused_before_mkdir(tmp_path: Path) -> None:
    make_tree(tmp_path, controllers="cpu pids")
    mgr = manager(tmp_path)
    with pytest.raises(ControllerUnavailable, match="memory"):
        mgr.create("db", Resources(memory_limit=64 * MiB))
    assert mgr.list() == []


def test_cpuset_outside_the_parent_is_refused(tree: Path) -> None:
    (tree / HOST.cgroup_parent / "cpuset.cpus.effective").write_text("0-1\n")
    mgr = manager(tree)
    with pytest.raises(InvalidResources, match="outside"):
        mgr.create("web", Resources(cpuset_cpus="3"))


def test_observation_reads_the_v2_files(tree: Path) -> None:
    mgr = manager(tree)
    cg = mgr.create("web", Resources(memory_limit=64 * MiB, pids_limit=8))
    assert cg.oom_kill_count() == 1
    stats = cg.stats()
    assert (stats.cpu_usage_ns, stats.memory_bytes, stats.memory_limit, stats.pids, stats.pids_limit) == \
        (1_500_000, 4096, 64 * MiB, 2, 8)
    assert not cg.populated() and not cg.frozen()
    assert mgr.list() == ["web"]
    opened = mgr.open("web")
    assert opened is not None and opened.unified == cg.unified
