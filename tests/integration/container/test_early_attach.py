"""`create(on_pid=…)`: the engine's hook into a container's namespaces while its root is built."""

from __future__ import annotations

import os
import time

import pytest
from pyroute2 import IPRoute

from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.network.netns import netlink_socket_in

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"


def test_hook_runs_in_the_new_namespaces_before_the_command(rt: ContainerRuntime) -> None:
    seen: list[tuple[str, int]] = []

    def hook(cid: str, pid: int) -> None:
        seen.append((cid, pid))
        assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
        inside = IPRoute(fileno=netlink_socket_in(pid))
        try:
            inside.link("add", ifname="early0", kind="veth", peer="early1")
        finally:
            inside.close()

    script = "ls /sys/class/net; cat /sys/class/net/lo/flags"
    info = rt.create(RunConfig(name="early", image=BUSYBOX, command=["sh", "-c", script]), on_pid=hook)
    assert seen == [(info.id, info.record.pid)]
    rt.start(info.id)
    deadline = time.monotonic() + 30
    while rt.inspect(info.id).status != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert rt.inspect(info.id).exit_code == 0
    log = rt.log_path(info.id).read_text()
    assert "early0" in log  # the command saw what the hook made
    assert int(log.split()[-1], 16) & 1  # and lo is up in a namespace of its own


def test_a_failing_hook_leaves_no_container(rt: ContainerRuntime) -> None:
    pids: list[int] = []

    def hook(cid: str, pid: int) -> None:
        pids.append(pid)
        raise ValueError("attach failed")

    with pytest.raises(ValueError, match="attach failed"):
        rt.create(RunConfig(name="doomed", image=BUSYBOX, command=["sleep", "60"]), on_pid=hook)
    assert pids and rt.containers() == []
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pids[0]}") and "Z" not in open(f"/proc/{pids[0]}/stat").read().split()[2]:
        assert time.monotonic() < deadline, "the half-made container still runs"
        time.sleep(0.02)
    assert rt.cgroups.list() == []
    # the shim still answers in step: the next container is fine
    info = rt.create(RunConfig(name="next", image=BUSYBOX, command=["true"]))
    assert rt.inspect(info.id).status == "created"
