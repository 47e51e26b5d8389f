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


def cgroups_besides_the_spare(rt: ContainerRuntime) -> list[str]:
    """This instance's cgroups but the one the shim made for its warm process (spare_cgroup.py)."""
    spare = rt.shim.request({"op": "list"})["spare"]
    return [name for name in rt.cgroups.list() if name != spare]


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
    assert cgroups_besides_the_spare(rt) == []
    # the shim still answers in step: the next container is fine
    info = rt.create(RunConfig(name="next", image=BUSYBOX, command=["true"]))
    assert rt.inspect(info.id).status == "created"


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2]:
        assert time.monotonic() < deadline, "the half-made container still runs"
        time.sleep(0.02)


def test_the_container_is_in_its_cgroups_before_its_command_runs(rt: ContainerRuntime) -> None:
    """The cgroups are made beside stage 2's mounts; PID 1 still joins them before the command."""
    info = rt.create(RunConfig(name="cg", image=BUSYBOX, command=["sh", "-c", "cat /proc/self/cgroup"]))
    cgroup = rt.cgroup(info.id)
    assert cgroup is not None and info.record.pid in cgroup.pids()
    rt.start(info.id)
    deadline = time.monotonic() + 30
    while rt.inspect(info.id).status != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # the cgroup namespace is rooted at the container's cgroup: every hierarchy reads "/"
    lines = [line.split(" ", 3)[3] for line in rt.log_path(info.id).read_text().splitlines()]
    assert lines and all(line.endswith(":/") for line in lines), lines


@pytest.mark.parametrize("step", ["make", "attach"])
def test_a_cgroup_failure_during_the_create_leaves_nothing(rt: ContainerRuntime, step: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.cgroups.cgroup import Cgroup
    from runtime.errors import RuntimeFailure

    shim_pids: list[int] = []
    real_create = rt.shim.create

    def spy(spec: dict[str, object], on_pid: object = None, **kw: object) -> int:
        attach = kw.get("attach")

        def record(pid: int) -> object:
            shim_pids.append(pid)
            return attach(pid)  # type: ignore[operator]
        return real_create(spec, on_pid, meanwhile=kw.get("meanwhile"), attach=record)  # type: ignore[arg-type]

    def broken(*_: object, **__: object) -> None:
        raise RuntimeFailure(f"cgroup {step} failed")

    monkeypatch.setattr(rt.shim, "create", spy)
    if step == "make":
        monkeypatch.setattr(rt, "_make_cgroup", broken)
    else:
        monkeypatch.setattr(Cgroup, "attach", broken)
    with pytest.raises(RuntimeFailure, match=f"cgroup {step} failed"):
        rt.create(RunConfig(name="doomed", image=BUSYBOX, command=["sleep", "60"]))
    assert rt.containers() == []
    assert cgroups_besides_the_spare(rt) == []
    if step == "attach":
        assert shim_pids
        _wait_gone(shim_pids[0])
    monkeypatch.undo()
    info = rt.create(RunConfig(name="next", image=BUSYBOX, command=["true"]))  # the shim is in step
    assert rt.inspect(info.id).status == "created"
