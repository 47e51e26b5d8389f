"""What the shim learns of a process it did not fork (runtime/container/shim_adopt.py): its exit
status while it is a zombie and, where the kernel keeps it (PIDFD_INFO_EXIT, ≥ 6.15), after it
was reaped; its stdout pipe opened again; a reused pid refused."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time

import pytest

from runtime.container import shim_adopt
from runtime.container.runtime import ContainerRuntime
from runtime.container.state import process_start_time
from runtime.features import host_features

pytestmark = pytest.mark.root


def _child(code: int = 0, pipe: int | None = None) -> int:
    """A child that writes to ``pipe`` (as its stdout) when told, then exits with ``code``."""
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        if pipe is not None:
            os.dup2(pipe, 1)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # not a pipe: left alone
        os.write(ready_w, b"r")
        os.read(go_r, 1)
        if pipe is not None:
            os.write(1, b"after the reopen\n")
        os.read(go_r, 1)
        os._exit(code)
    os.close(go_r)
    os.close(ready_w)
    assert os.read(ready_r, 1) == b"r"  # its stdio is in place
    os.close(ready_r)
    _children[pid] = go_w
    return pid


_children: dict[int, int] = {}


def _tell(pid: int) -> None:
    os.write(_children[pid], b"x")


def _wait_readable(fd: int) -> None:
    assert select.select([fd], [], [], 10)[0], "the pidfd never turned readable"


def test_the_status_of_a_zombie_and_of_a_reaped_process() -> None:
    pid = _child(code=7)
    start = process_start_time(pid)
    pidfd = shim_adopt.open_pidfd(pid, start)
    assert pidfd is not None
    try:
        _tell(pid)
        _tell(pid)
        _wait_readable(pidfd)
        time.sleep(0.05)
        status = shim_adopt.exit_status(pid, pidfd, start)  # a zombie: /proc/<pid>/stat has it
        assert status is not None and shim_adopt.decode(status) == (7, 0)
        os.waitpid(pid, 0)  # reaped: only the pidfd can still tell (PIDFD_INFO_EXIT)
        status = shim_adopt.exit_status(pid, pidfd, start)
        if host_features().pidfd_exit_info:
            assert status is not None and shim_adopt.decode(status) == (7, 0)
        else:
            assert status is None
    finally:
        os.close(pidfd)


def test_a_signal_is_128_plus_its_number() -> None:
    pid = _child()
    start = process_start_time(pid)
    pidfd = shim_adopt.open_pidfd(pid, start)
    assert pidfd is not None
    try:
        os.kill(pid, signal.SIGKILL)
        _wait_readable(pidfd)
        os.waitpid(pid, 0)
        status = shim_adopt.exit_status(pid, pidfd, start)
        if host_features().pidfd_exit_info:
            assert status is not None and shim_adopt.decode(status) == (137, 9)
    finally:
        os.close(pidfd)


def test_a_pid_that_is_not_the_same_process_is_refused() -> None:
    pid = _child()
    try:
        assert shim_adopt.open_pidfd(pid, process_start_time(pid) + 1) is None  # another start time
    finally:
        _tell(pid)
        _tell(pid)
        os.waitpid(pid, 0)
    assert shim_adopt.open_pidfd(pid, 0) is None  # gone


def test_the_stdout_pipe_of_a_process_is_opened_again() -> None:
    read_end, write_end = os.pipe()
    pid = _child(pipe=write_end)
    os.close(write_end)
    os.close(read_end)  # the reader is gone, as with a shim that died
    try:
        opened = shim_adopt.reopen_output(pid)
        assert [stream for _, stream in opened] == ["stdout"]  # fd 2 is /dev/null: left alone
        (fd, _), = opened
        _tell(pid)
        assert select.select([fd], [], [], 10)[0]
        assert os.read(fd, 100) == b"after the reopen\n"
        os.close(fd)
    finally:
        _tell(pid)
        os.waitpid(pid, 0)


def test_stop_settles_an_exit_no_shim_saw(rt: ContainerRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 20: a container that ended while its shim was dead had no exit record, ever: each
    `stop` waited 5 s for one and reported exit -1. Now stop has the shim there now record it (its
    status while the kernel still has it — a zombie the host's init has not reaped — else unknown)
    before it waits, so the wait finds the record at once."""
    import json

    from runtime.container.runconfig import RunConfig
    from runtime.container.state import load_exit

    info = rt.create(RunConfig(name="unseen", image="pyorch.local/busybox:latest", command=["sleep", "1000"]))
    rt.start(info.id)
    pid = rt.inspect(info.id).record.pid
    shim = rt.shim.shim_pid()
    os.kill(shim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{shim}/cmdline") and open(f"/proc/{shim}/cmdline").read():
        assert time.monotonic() < deadline, "the shim did not die"
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)  # it ends with nobody watching

    found_waiting: list[bool] = []
    wait = rt._wait_exit_file

    def watched(bundle: object, exit_pid: int, timeout: float) -> None:
        found_waiting.append(load_exit(bundle, exit_pid) is not None)  # type: ignore[arg-type]
        wait(bundle, exit_pid, timeout)  # type: ignore[arg-type]

    monkeypatch.setattr(rt, "_wait_exit_file", watched)
    stopped = rt.stop(info.id, timeout=1)
    assert found_waiting == [True]  # the record was there before stop waited for one
    record = json.loads((rt.layout.containers_dir / info.id / "exit.json").read_text())
    assert stopped.status == "exited"
    assert (stopped.exit_code, stopped.exit_unknown) in ((137, False), (-1, True)), stopped
    assert record["exit_code"] == stopped.exit_code
    rt.remove(info.id)


def test_stop_of_a_container_whose_create_was_cut_before_its_pid_was_recorded(rt: ContainerRuntime) -> None:
    """An engine killed in a create after the record was written and before its pid was (the
    fault point `create.record`) leaves a record with no pid; `down` stops every container, and
    stop asked the kernel for a pidfd of pid 0 (EINVAL): the down failed with a traceback
    (tests/faults/test_engine_kill.py). There is no run to stop or settle."""
    from runtime.container.runconfig import RunConfig
    from runtime.container.state import load_record, save_record

    info = rt.create(RunConfig(name="cut", image="pyorch.local/busybox:latest", command=["true"]))
    rt.shim.forget(info.id)  # its PID 1 goes, as it would with the engine that made it
    bundle = rt.layout.containers_dir / info.id
    record = load_record(bundle)
    assert record is not None
    record.pid, record.pid_start_time = 0, 0
    save_record(bundle, record)
    stopped = rt.stop(info.id, timeout=1)
    assert stopped.status != "running" and not (bundle / "exit.json").exists(), stopped
    rt.remove(info.id, force=True)


def test_an_adopted_process_that_has_ended_has_its_exit_recorded_before_the_answer(rt: ContainerRuntime) -> None:
    """`stop` asks the shim to adopt a process that ended while no shim watched it, then looks
    for its exit record; the shim recorded a zombie's exit from its loop after it had answered, so
    stop often waited for it (test_stop_settles_an_exit_no_shim_saw failed under load)."""
    import json

    from runtime.container.runconfig import RunConfig
    from runtime.container.state import load_exit

    info = rt.create(RunConfig(name="ended", image="pyorch.local/busybox:latest", command=["true"]))
    rt.shim.forget(info.id)  # no shim watches it any more
    bundle = rt.layout.containers_dir / info.id
    spec = json.loads((bundle / "spec.json").read_text())
    pid = _child(code=7)
    _tell(pid)
    _tell(pid)
    fd = os.pidfd_open(pid)
    try:
        _wait_readable(fd)  # a zombie: ended, not reaped (this test is its parent)
        rt.shim.adopt(spec, pid, process_start_time(pid), True)
        assert (load_exit(bundle, pid) or {}).get("exit_code") == 7
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    rt.remove(info.id, force=True)


def _reap_orphans(on: bool) -> None:
    """Make this process the reaper of its orphaned descendants (PR_SET_CHILD_SUBREAPER), as the
    host's init is for a shim's containers: one that reaps when it likes."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, int(on), 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _state(pid: int) -> str | None:
    from runtime.container.state import stat_fields

    fields = stat_fields(pid)
    return None if fields is None else fields[0]


def test_cp_of_an_adopted_container_that_ended_and_is_not_reaped(rt: ContainerRuntime) -> None:
    """A container adopted after its shim died, whose process then ended and is a zombie its
    reaper has not collected yet: the runtime took the zombie for running, and `cp` entered its
    mount namespace, gone with it ("/proc/<pid>/ns/mnt: No such file or directory"). A zombie
    has exited: cp reads the stopped container's root from its bundle. This test is that lazy
    reaper."""
    from runtime.container.runconfig import RunConfig
    from runtime.container.shim_client import stop_shim

    ours: dict[int, int] = {}  # processes re-parented to this test (pid → how to end it), reaped at the end
    _reap_orphans(True)
    try:
        stop_shim(rt.layout.run_root)  # one started before this test reaped orphans is not its own
        info = rt.create(RunConfig(name="ended", image="pyorch.local/busybox:latest", command=["sleep", "1000"]))
        rt.start(info.id)
        pid = rt.inspect(info.id).record.pid
        shim = rt.shim.shim_pid()
        ours[pid] = signal.SIGKILL
        os.kill(shim, signal.SIGKILL)
        os.waitpid(shim, 0)
        rt.shim.close()
        rt.adopt_orphans()
        assert info.id in rt.shim.known()  # a new shim watches it, as after a shim's death
        ours[rt.shim.shim_pid()] = signal.SIGTERM
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _state(pid) != "Z":
            assert time.monotonic() < deadline, f"{pid} did not become a zombie: {_state(pid)}"
            time.sleep(0.02)
        assert rt.copy_stat(info.id, "/bin/sh")["exists"]
        assert _state(pid) == "Z"  # still unreaped: the copy above was of a zombie's container
        assert rt.inspect(info.id).status == "exited"
        rt.remove(info.id)
    finally:
        _reap_orphans(False)
        rt.shim.close()
        for child, sig in ours.items():  # the container's PID 1, the shim that adopted it
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, sig)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)
