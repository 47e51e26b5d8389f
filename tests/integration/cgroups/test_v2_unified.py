"""The v2 driver on a real cgroup2 hierarchy: this host's /sys/fs/cgroup/unified (or the root on v2).

On a hybrid host that mount offers (almost) no controllers, so this covers what cgroup2 gives
without them: membership, cgroup.events, cgroup.kill, cgroup.freeze and removal.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.cgroups import CgroupManager, ControllerUnavailable, Resources, open_cgroups
from runtime.cgroups.detect import CGROUP2_SUPER_MAGIC, fs_magic
from runtime.layout import HostLayout

from .conftest import Spawn

pytestmark = pytest.mark.root
CGROUP2 = next((p for p in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
                if fs_magic(p) == CGROUP2_SUPER_MAGIC), None)


@pytest.fixture
def v2mgr(host: HostLayout, spawn: Spawn) -> Iterator[CgroupManager]:
    if CGROUP2 is None:
        pytest.skip("no cgroup2 mount on this host")
    manager = open_cgroups(host, root=CGROUP2)
    yield manager
    for name in manager.list():
        cgroup = manager.open(name)
        if cgroup is not None:
            cgroup.kill()
            cgroup.remove()
    manager.remove_parent()


def test_layout_is_v2_at_the_mount(v2mgr: CgroupManager) -> None:
    assert v2mgr.mode == "v2" and v2mgr.layout.unified == CGROUP2
    assert v2mgr.layout.v1 == {}


def test_membership_events_kill(v2mgr: CgroupManager, spawn: Spawn) -> None:
    cg = v2mgr.create("c", Resources())
    assert cg.procs_files == [str(v2mgr.layout.roots[0] / v2mgr.parent / "c" / "cgroup.procs")]
    assert not cg.populated()
    proc = spawn(["sh", "-c", "sleep 300 & echo started; wait"], cg.procs_files, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"started\n"
    assert cg.populated() and len(cg.pids()) == 2
    cg.kill()
    assert not cg.populated() and cg.pids() == []
    assert proc.wait() == -9


def test_freeze_thaw_with_the_core_freezer(v2mgr: CgroupManager, spawn: Spawn) -> None:
    cg = v2mgr.create("f", Resources())
    spawn(["sleep", "300"], cg.procs_files)
    cg.freeze()
    assert cg.frozen()
    cg.thaw()
    assert not cg.frozen()
    cg.freeze()
    cg.kill()  # cgroup.kill reaches frozen tasks on cgroup2
    assert not cg.populated()


def test_attach_from_parent_and_stats(v2mgr: CgroupManager, spawn: Spawn) -> None:
    cg = v2mgr.create("s", Resources())
    assert cg.stats().cpu_usage_ns == 0
    busy = (
        "import sys, time\nsys.stdin.readline()\nend = time.process_time() + 0.2\n"
        "while time.process_time() < end: pass\nprint('ok', flush=True)\nsys.stdin.read()"
    )
    proc = spawn([sys.executable, "-c", busy], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    cg.attach(proc.pid)
    assert cg.pids() == [proc.pid]
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")  # start working only once inside
    proc.stdin.flush()
    assert proc.stdout is not None and proc.stdout.readline() == b"ok\n"
    # cpu.stat usage is a core cgroup2 file: it counts even without the cpu controller
    assert cg.stats().cpu_usage_ns > 0
    cg.kill()


def test_limits_without_the_controller_are_refused(v2mgr: CgroupManager) -> None:
    if "memory" in v2mgr.layout.v2_controllers:
        pytest.skip("this cgroup2 mount offers the memory controller")
    with pytest.raises(ControllerUnavailable):
        v2mgr.create("m", Resources(memory_limit=64 << 20))
    assert v2mgr.list() == []
