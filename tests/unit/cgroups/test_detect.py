"""Mountinfo parsing and layout detection, on fixture strings and fixture trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cgroups import CgroupError, layout_of_tree, parse_mountinfo
from runtime.cgroups.detect import layout_from

HYBRID_SEPARATE = """\
24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""

# systemd's hybrid layout elsewhere: cpu and cpuacct co-mounted, optional fields present.
HYBRID_COMOUNTED = """\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio
33 25 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
"""

PURE_V2 = """\
25 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""

V1_ONLY = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
"""


def test_hybrid_with_separate_cpu_and_cpuacct() -> None:
    layout = layout_from("hybrid", parse_mountinfo(HYBRID_SEPARATE))
    assert layout.mode == "hybrid"
    assert layout.v1["cpu"] == Path("/sys/fs/cgroup/cpu")
    assert layout.v1["cpuacct"] == Path("/sys/fs/cgroup/cpuacct")
    assert layout.unified == Path("/sys/fs/cgroup/unified")
    assert layout.v1["name=systemd"] == Path("/sys/fs/cgroup/systemd")
    # name=systemd is not joined; every controller pyorch uses has its own hierarchy here
    assert Path("/sys/fs/cgroup/systemd") not in layout.hierarchies
    assert len(layout.hierarchies) == 8
    assert layout.roots[-1] == Path("/sys/fs/cgroup/unified")


def test_comounted_cpu_cpuacct_is_one_hierarchy() -> None:
    layout = layout_from("hybrid", parse_mountinfo(HYBRID_COMOUNTED), "hugetlb\n")
    assert layout.v1["cpu"] == layout.v1["cpuacct"] == Path("/sys/fs/cgroup/cpu,cpuacct")
    assert layout.hierarchies == [Path("/sys/fs/cgroup/cpu,cpuacct"), Path("/sys/fs/cgroup/memory"),
                                  Path("/sys/fs/cgroup/pids")]
    assert "net_cls" in layout.v1 and layout.v2_controllers == ("hugetlb",)


def test_pure_v2() -> None:
    layout = layout_from("v2", parse_mountinfo(PURE_V2), "cpuset cpu io memory pids\n")
    assert layout.mode == "v2" and layout.v1 == {}
    assert layout.unified == Path("/sys/fs/cgroup")
    assert layout.v2_controllers == ("cpuset", "cpu", "io", "memory", "pids")
    assert layout.roots == [Path("/sys/fs/cgroup")]


def test_v1_only_and_hybrid_mode_without_a_cgroup2_mount_falls_back_to_v1() -> None:
    assert layout_from("v1", parse_mountinfo(V1_ONLY)).mode == "v1"
    assert layout_from("hybrid", parse_mountinfo(V1_ONLY)).mode == "v1"


def test_escaped_mountpoints_are_decoded() -> None:
    text = r"40 31 0:37 / /mnt/my\040cgroups rw - cgroup cgroup rw,memory" + "\n"
    assert parse_mountinfo(text)[0].mountpoint == Path("/mnt/my cgroups")


def test_non_cgroup_lines_and_garbage_are_ignored() -> None:
    mounts = parse_mountinfo("garbage\n1 2 3\n" + HYBRID_SEPARATE)
    assert {m.fstype for m in mounts} == {"cgroup", "cgroup2"}
    assert len(mounts) == 10


def test_no_cgroups_at_all_is_an_error() -> None:
    with pytest.raises(CgroupError):
        layout_from("v1", [])
    with pytest.raises(CgroupError):
        layout_from("v2", parse_mountinfo(V1_ONLY))


def test_this_hosts_mountinfo_parses() -> None:
    mounts = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
    assert all(m.fstype in ("cgroup", "cgroup2") for m in mounts)


def _touch(directory: Path, *names: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text("")


def test_fixture_tree_v2(tmp_path: Path) -> None:
    _touch(tmp_path, "cgroup.subtree_control", "cgroup.procs")
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    layout = layout_of_tree(tmp_path)
    assert layout.mode == "v2" and layout.unified == tmp_path
    assert layout.v2_controllers == ("cpu", "memory", "pids")


def test_fixture_tree_hybrid_recognises_controllers_by_their_files(tmp_path: Path) -> None:
    _touch(tmp_path / "cpu,cpuacct", "cpu.shares", "cpuacct.usage", "cgroup.procs")
    _touch(tmp_path / "memory", "memory.limit_in_bytes", "cgroup.procs")
    _touch(tmp_path / "unified", "cgroup.controllers", "cgroup.procs")
    layout = layout_of_tree(tmp_path)
    assert layout.mode == "hybrid"
    assert layout.v1 == {"cpu": tmp_path / "cpu,cpuacct", "cpuacct": tmp_path / "cpu,cpuacct",
                         "memory": tmp_path / "memory"}
    assert layout.unified == tmp_path / "unified"


def test_empty_tree_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CgroupError):
        layout_of_tree(tmp_path)
