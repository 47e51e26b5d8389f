"""An exited container's status is never seen without its exit code.

The shim records exit.json before it reaps the PID (waitid with WNOWAIT), so an observer that polls
without pause sees "running" and then "exited" with the real code, never a PID gone without a record
(which inspect reports as exit code -1, meaning "the shim was not there").
"""

from __future__ import annotations

import time

import pytest

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
