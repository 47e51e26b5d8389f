"""The device allowlist against the real kernel, through both mechanisms this host can use.

This host is hybrid: the v1 `devices` controller is what containers get, and its cgroup2 mount
accepts BPF_PROG_TYPE_CGROUP_DEVICE programs too, so the eBPF path of pure-v2 hosts is exercised
here for real (with the v1 controller left open, the program is the only thing enforcing).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from runtime.cgroups import detect
from runtime.container.runconfig import DeviceMapping, RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.layout import HostLayout
from runtime.linux import bpf
from runtime.security import devices, devices_bpf
from tests.integration.container.test_isolation import run_to_exit, texts

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"
# mknod of a block device is allowed (Docker's "b *:* m"), opening it is not; /dev/loop-control
# (c 10:237) is a host device outside the list; /dev/null is inside.
PROBE = ("mknod /tmp/blk b 7 0 && echo mknod-ok; (: < /tmp/blk) && echo blk-opened; "
         "mknod /tmp/lc c 10 237 && (: < /tmp/lc) && echo lc-opened; (: < /dev/null) && echo null-ok")
UNIFIED = detect().unified


def _enforcements() -> list[str]:
    found = ["cgroup-v1"] if "devices" in detect().v1 else []
    return found + (["ebpf"] if UNIFIED is not None else [])


@pytest.mark.parametrize("enforcement", _enforcements())
def test_allowlist_refuses_host_devices_and_privileged_lifts_it(rt: ContainerRuntime, enforcement: str) -> None:
    rt.features = dataclasses.replace(rt.features, devices=enforcement)
    _, log = run_to_exit(rt, RunConfig(name="dev", image=BUSYBOX, command=["sh", "-c", PROBE]))
    lines = texts(log)
    assert "mknod-ok" in lines and "null-ok" in lines, lines
    assert "blk-opened" not in lines and "lc-opened" not in lines, lines
    assert "Operation not permitted" in log
    _, log = run_to_exit(rt, RunConfig(name="devp", image=BUSYBOX, privileged=True, command=["sh", "-c", PROBE]))
    assert "lc-opened" in texts(log)


@pytest.mark.skipif(not os.path.exists("/dev/loop-control"), reason="no /dev/loop-control on this host")
@pytest.mark.parametrize("enforcement", _enforcements())
def test_devices_and_cgroup_rules_widen_the_list(rt: ContainerRuntime, enforcement: str) -> None:
    rt.features = dataclasses.replace(rt.features, devices=enforcement)
    mode = os.stat("/dev/loop-control").st_mode & 0o777
    mapped = RunConfig(name="devmap", image=BUSYBOX, devices=[DeviceMapping("/dev/loop-control", "/dev/lc", "rw")],
                       command=["sh", "-c", "stat -c '%t:%T %a' /dev/lc; (: < /dev/lc) && echo lc-opened"])
    _, log = run_to_exit(rt, mapped)
    assert f"a:ed {mode:o}" in texts(log) and "lc-opened" in texts(log), log  # 10:237 in hex
    ruled = RunConfig(name="devrule", image=BUSYBOX, device_cgroup_rules=["c 10:237 rw"],
                      command=["sh", "-c", PROBE])
    _, log = run_to_exit(rt, ruled)
    assert "lc-opened" in texts(log) and "blk-opened" not in texts(log), log


@pytest.mark.skipif(UNIFIED is None, reason="no cgroup2 hierarchy on this host")
def test_ebpf_program_is_attached_once_per_cgroup(layout: HostLayout) -> None:
    assert UNIFIED is not None
    directory = UNIFIED / f"{layout.cgroup_parent}"
    directory.mkdir()
    try:
        devices_bpf.apply_v2(directory, devices.DEFAULT_RULES)
        devices_bpf.apply_v2(directory, devices.DEFAULT_RULES)  # a respawn: no second program
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert bpf.attached_program_count(fd) == 1
        finally:
            os.close(fd)
        # A host process moved into the cgroup is held to the list as well.
        script = f"echo $$ > {directory}/cgroup.procs; : < /dev/null && echo null-ok; : < /dev/loop-control"
        result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)
        assert "null-ok" in result.stdout and "Operation not permitted" in result.stderr, result
    finally:
        directory.rmdir()


def test_devices_v1_list_is_left_open_when_ebpf_enforces(rt: ContainerRuntime) -> None:
    if "devices" not in detect().v1 or UNIFIED is None:
        pytest.skip("needs a hybrid host (v1 devices controller and cgroup2)")
    rt.features = dataclasses.replace(rt.features, devices="ebpf")
    info = rt.create(RunConfig(name="open", image=BUSYBOX, command=["true"]))
    cgroup = rt.cgroup(info.id)
    assert cgroup is not None
    assert Path(cgroup.v1_dirs["devices"], "devices.list").read_text().split() == ["a", "*:*", "rwm"]
    rt.remove(info.id, force=True)
