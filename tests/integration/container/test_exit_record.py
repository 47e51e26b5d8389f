"""An exited container's status is never seen without its exit code.

The shim records exit.json before it reaps the PID (waitid with WNOWAIT), so an observer that polls
without pause sees "running" and then "exited" with the real code, never a PID gone without a record
(which inspect reports as exit code -1, meaning "the shim was not there").
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runtime.container import runtime as runtime_module
from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"

# Output right up to the exit, so the shim has a last chunk to drain when it sees the exit.
NOISY_EXIT = "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done; exit 3"


@pytest.mark.parametrize("round_", range(8))
def test_exit_code_is_there_the_moment_the_container_is_seen_exited(rt: ContainerRuntime, round_: int) -> None:
    info = rt.create(RunConfig(name=f"exitrec{round_}", image=BUSYBOX, command=["sh", "-c", NOISY_EXIT]))
    rt.start(info.id)
    deadline = time.monotonic() + 30
    seen = rt.inspect(info.id)
    while seen.status != "exited":
        assert time.monotonic() < deadline, "container did not exit"
        seen = rt.inspect(info.id)  # no sleep: catch any window between reaping and recording
    assert seen.exit_code == 3, seen
    assert seen.finished_at is not None
    assert "line 299" in rt.log_path(info.id).read_text()


def test_a_container_run_again_while_it_is_read_is_seen_with_that_run_s_exit(
        rt: ContainerRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that read the record (the run before's pid) and then the exit record after a
    restart had ended the next run too found that record about another pid: it took the container
    for gone without one, `exited (-1)` in `ps` (seen mid restart: a crash loop, a stop-start, with
    the engine's reader descheduled between the two reads). Here the reader is held there on purpose."""
    info = rt.create(RunConfig(name="again", image=BUSYBOX, command=["sh", "-c", "exit 3"]))
    rt.start(info.id)
    _wait_exited(rt, info.id)
    read_exit = runtime_module.load_exit
    held: list[int] = []

    def after_a_restart(bundle: Path, pid: int | None = None) -> dict[str, object] | None:
        if not held:  # the reader has read the record: the container runs again and ends meanwhile
            held.append(0)
            monkeypatch.setattr(runtime_module, "load_exit", read_exit)
            held[0] = rt.respawn(info.id, restart_count=1).record.pid
            rt.start(info.id)
            deadline = time.monotonic() + 30
            while read_exit(bundle, held[0]) is None:
                assert time.monotonic() < deadline, "the second run did not end"
                time.sleep(0.01)
        return read_exit(bundle, pid)

    monkeypatch.setattr(runtime_module, "load_exit", after_a_restart)
    seen = rt.inspect(info.id)
    assert held and (seen.status, seen.exit_code, seen.exit_unknown) == ("exited", 3, False), seen
    assert seen.record.pid == held[0] and seen.record.restart_count == 1


def _wait_exited(rt: ContainerRuntime, cid: str) -> None:
    deadline = time.monotonic() + 30
    while rt.inspect(cid).status != "exited":
        assert time.monotonic() < deadline, "container did not exit"
        time.sleep(0.01)
