"""Spare cgroups: the shim moves its warm PID 1 into cgroups named by the next container's id
while idle, so a create does not wait for the kernel's RCU grace period of a cgroup move."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runtime.container.runconfig import Resources, RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.security import devices

from .test_warm_process import warm_pid

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"


def spare_id(rt: ContainerRuntime) -> str:
    """The id of the shim's spare cgroups, once it has made them (after its first create)."""
    deadline = time.monotonic() + 10
    while True:
        spare = rt.shim.request({"op": "list"})["spare"]
        if spare:
            return str(spare)
        assert time.monotonic() < deadline, "the shim made no spare cgroups"
        time.sleep(0.02)


def run_to_exit(rt: ContainerRuntime, cid: str) -> None:
    rt.start(cid)
    deadline = time.monotonic() + 30
    while rt.inspect(cid).status != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_the_next_container_takes_the_spare_cgroups_with_the_warm_process(rt: ContainerRuntime) -> None:
    first = rt.create(RunConfig(name="first", image=BUSYBOX, command=["true"]))  # tells the shim where
    spare = spare_id(rt)
    waiting = warm_pid(rt)
    cgroup = rt.cgroups.open(spare)
    assert cgroup is not None and cgroup.pids() == [waiting]
    assert len(cgroup.directories) == len(rt.cgroup(first.id).directories)  # type: ignore[union-attr]

    info = rt.create(RunConfig(name="second", image=BUSYBOX, command=["sh", "-c", "cat /proc/self/cgroup"],
                               resources=Resources(memory_limit=48 << 20, pids_limit=50)))
    assert info.id == spare and info.record.pid == waiting
    mine = rt.cgroup(info.id)
    assert mine is not None and waiting in mine.pids()
    assert mine.stats().memory_limit == 48 << 20  # the limits were written into the spare
    run_to_exit(rt, info.id)
    assert rt.inspect(info.id).exit_code == 0
    lines = [line.split(" ", 3)[3] for line in rt.log_path(info.id).read_text().splitlines()]
    assert lines and all(line.endswith(":/") for line in lines), lines  # rooted at its own cgroups


def test_a_restart_leaves_no_spare_behind(rt: ContainerRuntime) -> None:
    """A respawn keeps its id, so it moves the warm process out of the spare, which goes."""
    info = rt.create(RunConfig(name="again", image=BUSYBOX, command=["true"]))
    run_to_exit(rt, info.id)
    spare = spare_id(rt)
    again = rt.respawn(info.id, restart_count=1)
    assert again.record.pid not in (info.record.pid,)
    mine = rt.cgroup(info.id)
    assert mine is not None and again.record.pid in mine.pids()
    deadline = time.monotonic() + 10
    while spare in rt.cgroups.list():
        assert time.monotonic() < deadline, "the spare left behind by the restart is still there"
        time.sleep(0.02)


def test_a_given_up_reservation_goes_with_its_warm_process(rt: ContainerRuntime) -> None:
    rt.create(RunConfig(name="first", image=BUSYBOX, command=["true"]))
    spare = spare_id(rt)
    waiting = warm_pid(rt)
    assert rt.shim.reserve() == spare
    assert rt.shim.reserve() is None  # one reservation at a time
    rt.shim.request({"op": "forget", "id": spare})  # what a create that failed early does
    deadline = time.monotonic() + 10
    while spare in rt.cgroups.list():
        assert time.monotonic() < deadline, "the given-up spare is still there"
        time.sleep(0.02)
    assert warm_pid(rt) != waiting


def test_a_killed_shim_leaves_no_spare_behind(rt: ContainerRuntime) -> None:
    """SIGKILL of the shim ends its warm process too; the next shim removes the spare it left."""
    import os
    import signal

    rt.create(RunConfig(name="first", image=BUSYBOX, command=["true"]))
    spare = spare_id(rt)
    waiting = warm_pid(rt)
    os.kill(rt.shim.shim_pid(), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{waiting}"):  # it reads end-of-file instead of a spec
        assert time.monotonic() < deadline, "the warm process outlived its shim"
        time.sleep(0.02)
    assert spare in rt.cgroups.list()  # nobody was there to remove it
    rt.shim.close()  # drop pooled connections to the dead shim
    rt.shim.ensure_running()
    assert spare not in rt.cgroups.list()
    info = rt.create(RunConfig(name="after", image=BUSYBOX, command=["true"]))
    assert rt.inspect(info.id).status == "created"


def test_the_warm_process_makes_no_device_node_before_its_allowlist_is_complete(
        rt: ContainerRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm PID 1 already is in the spare's cgroups while the create writes their device
    allowlist, and cgroup v1 cannot switch it in one write: `devices.deny a` first, then one
    `devices.allow` per rule. Stage 2 builds /dev only once the client says the cgroups are done;
    before, a create under load (scale-up) failed with `[Errno 1] Operation not permitted`: its
    mknod of /dev/null fell between the deny and the allows. Here the allows come late on purpose."""
    if rt.features.devices != "cgroup-v1":
        pytest.skip("the device allowlist is a cgroup v1 controller only on hybrid and v1 hosts")
    rt.create(RunConfig(name="first", image=BUSYBOX, command=["true"]))
    spare = spare_id(rt)
    cgroup = rt.cgroups.open(spare)
    assert cgroup is not None
    (cgroup.v1_dirs["devices"] / "devices.deny").write_text("a")  # where the create's allowlist begins
    write_allowlist = devices.apply_v1

    def late(devices_dir: Path, rules: tuple[devices.DeviceRule, ...]) -> None:
        time.sleep(2.0)  # a loaded host: stage 2 runs on meanwhile
        write_allowlist(devices_dir, rules)

    monkeypatch.setattr(devices, "apply_v1", late)
    info = rt.create(RunConfig(name="second", image=BUSYBOX, command=["sh", "-c", "echo > /dev/null"]))
    assert info.id == spare
    run_to_exit(rt, info.id)
    assert rt.inspect(info.id).exit_code == 0
