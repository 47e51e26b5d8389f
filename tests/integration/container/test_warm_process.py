"""The shim's warm process: a PID 1 forked ahead into fresh namespaces, handed the next spec."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from runtime.container.runconfig import Mount, RunConfig
from runtime.container.runtime import ContainerRuntime

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _in_own_pid_namespace(pid: int) -> bool:
    """Stage 2 (the warm PID 1) is PID 1 of a namespace of its own; stage 1, which forks it and
    exits, is briefly the shim's child too and must not be taken for it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return any(line.startswith("NSpid:") and len(line.split()) == 3 for line in status.splitlines())


def _running(pid: int) -> bool:
    """Neither gone nor a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def warm_pid(rt: ContainerRuntime) -> int:
    """The shim's one child that is no container (it appears once the shim is idle)."""
    shim = rt.shim.shim_pid()
    deadline = time.monotonic() + 10
    while True:
        containers = {info.record.pid for info in rt.containers()}
        waiting = {pid for pid in children_of(shim) - containers if _in_own_pid_namespace(pid)}
        if len(waiting) == 1:
            return waiting.pop()
        assert time.monotonic() < deadline, f"no single warm process: {waiting}"
        time.sleep(0.02)


def run_to_exit(rt: ContainerRuntime, config: RunConfig) -> tuple[int, str]:
    info = rt.create(config)
    rt.start(info.id)
    deadline = time.monotonic() + 30
    while rt.inspect(info.id).status != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return info.record.pid, rt.log_path(info.id).read_text()


def test_the_next_container_is_the_warm_process(rt: ContainerRuntime) -> None:
    rt.shim.ensure_running()
    waiting = warm_pid(rt)
    pid, log = run_to_exit(rt, RunConfig(name="w1", image=BUSYBOX, init=False, command=["sh", "-c", "echo pid $$"]))
    assert pid == waiting and "pid 1" in log
    assert warm_pid(rt) != waiting  # and another one is forked for the container after it


def test_a_host_mount_made_after_the_fork_is_seen(rt: ContainerRuntime, tmp_path: Path) -> None:
    """The mount namespace is copied when the spec arrives, not when the process was forked."""
    rt.shim.ensure_running()
    warm_pid(rt)
    late = tmp_path / "late"
    late.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "late", str(late)], check=True)
    try:
        (late / "marker").write_text("mounted after the fork\n")
        _, log = run_to_exit(rt, RunConfig(name="w2", image=BUSYBOX, command=["cat", "/data/marker"],
                                           mounts=[Mount("bind", "/data", str(late))]))
        assert "mounted after the fork" in log
    finally:
        subprocess.run(["umount", str(late)], check=True)


def test_stopping_the_shim_takes_the_warm_process_with_it(rt: ContainerRuntime) -> None:
    rt.shim.ensure_running()
    waiting = warm_pid(rt)
    from runtime.container.shim_client import stop_shim

    rt.shim.close()
    stop_shim(rt.layout.run_root)
    assert not Path(f"/proc/{waiting}/cmdline").exists() or not Path(f"/proc/{waiting}/cmdline").read_bytes()


def test_a_create_whose_client_is_gone_leaves_no_process(rt: ContainerRuntime, tmp_path: Path) -> None:
    """Issue 20: a create whose client hung up before the shim's early reply left the warm process
    it had taken running (its own namespaces, ~12 MB) and listed nowhere, for ever. The shim is
    held stopped while the client connects, sends its create and leaves, so the reply always
    finds the client gone."""
    import json
    import os
    import signal
    import socket

    model = rt.create(RunConfig(name="model", image=BUSYBOX, command=["true"]))
    spec = json.loads((rt.layout.containers_dir / model.id / "spec.json").read_text())
    bundle = tmp_path / "bundle"
    for sub in ("upper", "work", "rootfs"):
        (bundle / sub).mkdir(parents=True)
    # a spec that sets up (so stage 2 waits for the client's attach), under an id of its own
    spec.update(id="gone" + os.urandom(4).hex(), name="gone", bundle_dir=str(bundle),
                log_path=str(bundle / "ctr.log"))
    shim = rt.shim.shim_pid()
    taken = warm_pid(rt)
    os.kill(shim, signal.SIGSTOP)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(rt.layout.run_root / "shim.sock"))
            client.sendall(json.dumps({"op": "create", "spec": spec, "early": True,
                                       "client_attaches": True}).encode() + b"\n")
    finally:
        os.kill(shim, signal.SIGCONT)

    deadline = time.monotonic() + 20
    while _running(taken):
        assert time.monotonic() < deadline, f"the warm process {taken} of the abandoned create still runs"
        time.sleep(0.05)
    assert rt.shim.shim_pid() == shim  # the shim lives on, answers, and holds no such container
    assert spec["id"] not in {c["id"] for c in rt.shim.request({"op": "list"})["containers"]}
    assert warm_pid(rt) != taken  # and forks another for the next create
    rt.remove(model.id, force=True)
