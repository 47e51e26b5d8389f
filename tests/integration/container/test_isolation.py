"""The runtime against the real kernel: isolation, limits, exit status, logs, stop."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runtime.container.runconfig import Mount, Resources, RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.container.state import ContainerInfo

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"


def run_to_exit(rt: ContainerRuntime, config: RunConfig, timeout: float = 30) -> tuple[ContainerInfo, str]:
    info = rt.create(config)
    rt.start(info.id)
    deadline = time.monotonic() + timeout
    while rt.inspect(info.id).status != "exited":
        assert time.monotonic() < deadline, "container did not exit"
        time.sleep(0.02)
    final = rt.inspect(info.id)
    return final, rt.log_path(info.id).read_text()


def texts(log: str) -> list[str]:
    return [line.split(" ", 3)[3] if line.count(" ") >= 3 else "" for line in log.splitlines()]


def test_container_sees_only_its_own_processes_and_hostname(rt: ContainerRuntime) -> None:
    info, log = run_to_exit(rt, RunConfig(name="iso", image=BUSYBOX, hostname="box1",
                                          command=["sh", "-c", "ps -o pid,comm; hostname; exit 7"]))
    lines = texts(log)
    assert info.exit_code == 7
    assert "box1" in lines
    pids = [int(line.split()[0]) for line in lines if line.strip() and line.split()[0].isdigit()]
    assert 1 in pids and max(pids) < 10, lines  # a fresh PID namespace: our tree only


def test_default_capabilities_match_docker(rt: ContainerRuntime) -> None:
    _, log = run_to_exit(rt, RunConfig(name="caps", image=BUSYBOX,
                                       command=["grep", "CapEff", "/proc/self/status"]))
    assert "00000000a80425fb" in log


def test_host_network_is_invisible(rt: ContainerRuntime) -> None:
    _, log = run_to_exit(rt, RunConfig(name="net", image=BUSYBOX, command=["cat", "/proc/net/dev"]))
    interfaces = [t.split(":")[0].strip() for t in texts(log) if ":" in t]
    assert interfaces == ["lo"]


def test_memory_limit_is_enforced_and_oom_kill_reported(rt: ContainerRuntime) -> None:
    config = RunConfig(name="oom", image=BUSYBOX, resources=Resources(memory_limit=32 * 1024 * 1024),
                       init=False,
                       # the string doubles until the cgroup's limit kills the shell
                       command=["sh", "-c", "a=x; while :; do a=$a$a; done"])
    info, _ = run_to_exit(rt, config)
    assert info.exit_code == 137
    assert info.oom_killed


def test_oom_kill_is_reported_for_the_run_it_ended_only(rt: ContainerRuntime) -> None:
    # The first run fills its memory limit and is OOM-killed; the restarted one (same cgroup,
    # same writable layer, where the marker is) exits cleanly and must not inherit the flag.
    script = "if [ -e /ran ]; then exit 3; fi; touch /ran; a=x; while :; do a=$a$a; done"
    config = RunConfig(name="oom-once", image=BUSYBOX, resources=Resources(memory_limit=32 * 1024 * 1024),
                       init=False, command=["sh", "-c", script])
    first, _ = run_to_exit(rt, config)
    assert (first.exit_code, first.oom_killed) == (137, True)
    rt.respawn(first.id, restart_count=1)
    rt.start(first.id)
    deadline = time.monotonic() + 30
    while (second := rt.inspect(first.id)).status != "exited" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (second.exit_code, second.oom_killed) == (3, False)


def test_stop_is_fast_with_init_even_when_pid1_ignores_sigterm(rt: ContainerRuntime) -> None:
    info = rt.create(RunConfig(name="loop", image=BUSYBOX, command=["sh", "-c", "while true; do sleep 1; done"]))
    rt.start(info.id)
    stopped = rt.stop(info.id, timeout=10)
    assert stopped.status == "exited"
    assert stopped.finished_at is not None
    assert stopped.exit_code in (143, 137, 0)


def test_exit_status_and_logs_survive_in_the_bundle(rt: ContainerRuntime) -> None:
    info, log = run_to_exit(rt, RunConfig(name="out", image=BUSYBOX,
                                          command=["sh", "-c", "echo out; echo err >&2; exit 3"]))
    assert info.exit_code == 3
    assert " stdout F out" in log and " stderr F err" in log


def test_bad_command_is_reported_at_start(rt: ContainerRuntime) -> None:
    info = rt.create(RunConfig(name="bad", image=BUSYBOX, command=["/no/such/binary"], init=False))
    with pytest.raises(Exception, match="no/such/binary"):
        rt.start(info.id)


def test_cap_drop_and_add_change_the_effective_set(rt: ContainerRuntime) -> None:
    config = RunConfig(name="caps2", image=BUSYBOX, cap_drop=["ALL"], cap_add=["NET_BIND_SERVICE"],
                       command=["grep", "CapEff", "/proc/self/status"])
    _, log = run_to_exit(rt, config)
    assert "0000000000000400" in log  # bit 10 only


def test_non_root_user_gets_no_effective_capabilities(rt: ContainerRuntime) -> None:
    config = RunConfig(name="nobody", image=BUSYBOX, user="65534:65534",
                       command=["sh", "-c", "id -u; grep CapEff /proc/self/status"])
    _, log = run_to_exit(rt, config)
    lines = texts(log)
    assert "65534" in lines
    assert any("0000000000000000" in line for line in lines)


def test_non_root_process_can_open_its_stdout_and_stderr(rt: ContainerRuntime) -> None:
    """nginx as www-data logs to /dev/stdout: the stdio pipes must be its user's, as with runc."""
    script = "echo out > /dev/stdout; echo err > /dev/stderr; id -u"
    _, log = run_to_exit(rt, RunConfig(name="stdio", image=BUSYBOX, user="33:33", command=["sh", "-c", script]))
    lines = texts(log)
    assert "out" in lines and "err" in lines and "33" in lines, log
    info = rt.create(RunConfig(name="stdio-exec", image=BUSYBOX, command=["sleep", "1000"]))
    rt.start(info.id)
    session = rt.exec(info.id, ["sh", "-c", script], user="65534")
    output = b"".join(data for _, data in session.output()).decode()
    assert session.wait() == 0, output
    assert sorted(output.split()) == ["65534", "err", "out"], output
    rt.stop(info.id, timeout=5)


def test_container_and_exec_start_with_default_signal_dispositions(rt: ContainerRuntime) -> None:
    """Nothing of the shim's Python leaks in: no ignored SIGPIPE/SIGXFSZ (execve keeps ignored
    signals), as under runc."""
    status = ["grep", "-E", "SigIgn|SigBlk", "/proc/self/status"]
    _, log = run_to_exit(rt, RunConfig(name="sig", image=BUSYBOX, init=False, command=status))
    assert texts(log) == ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"], log
    info = rt.create(RunConfig(name="sig-exec", image=BUSYBOX, command=["sleep", "1000"]))
    rt.start(info.id)
    session = rt.exec(info.id, status)
    output = b"".join(data for _, data in session.output()).decode()
    assert session.wait() == 0 and output.split() == ["SigBlk:", "0000000000000000", "SigIgn:", "0000000000000000"]
    rt.stop(info.id, timeout=5)


def test_mounts_read_only_root_and_tmpfs(rt: ContainerRuntime, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("from host\n")
    config = RunConfig(
        name="mnt", image=BUSYBOX, read_only=True,
        mounts=[Mount("bind", "/host", str(shared)), Mount("volume", "/vol", "t_data"),
                Mount("tmpfs", "/scratch", tmpfs_size=1 << 20)],
        command=["sh", "-c", "cat /host/in.txt; echo out > /host/out.txt; echo v > /vol/v; "
                 "echo s > /scratch/s && echo tmpfs-ok; touch /rootfile || echo rootfs-ro"],
    )
    _, log = run_to_exit(rt, config)
    lines = texts(log)
    assert "from host" in lines and "tmpfs-ok" in lines and "rootfs-ro" in lines, lines
    assert (shared / "out.txt").read_text() == "out\n"
    assert (rt.layout.volumes_dir / "t_data" / "_data" / "v").read_text() == "v\n"


def test_exec_joins_the_container(rt: ContainerRuntime) -> None:
    info = rt.create(RunConfig(name="ex", image=BUSYBOX, hostname="exbox", command=["sleep", "1000"]))
    rt.start(info.id)
    session = rt.exec(info.id, ["sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; exit 5"])
    output = b"".join(data for _, data in session.output()).decode()
    assert session.wait() == 5
    assert "exbox" in output and "sleep 1000" in output
    rows = rt.processes(info.id)
    assert any("sleep 1000" in r["cmd"] for r in rows)
    # an exec'd process is in the container's cgroups too (its limits, `top`, its kill)
    again = rt.exec(info.id, ["sleep", "1000"])
    cgroup = rt.cgroup(info.id)
    assert cgroup is not None and again.pid in cgroup.pids()
    rt.stop(info.id, timeout=5)
    assert again.wait() != 0
