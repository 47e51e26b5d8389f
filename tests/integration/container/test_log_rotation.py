"""The shim keeps each container's log within its settings: rotated, gzipped, capped, or none."""

from __future__ import annotations

import gzip
import time

import pytest

from orchestrator.engine.logs import LogSource, stream_logs
from runtime.container.logfile import log_files, log_size
from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.container.spec import LogSettings

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"
COUNT_LINES = "i=0; while [ $i -lt {n} ]; do echo line $i; i=$((i+1)); done"


def run_to_exit(rt: ContainerRuntime, config: RunConfig) -> str:
    info = rt.create(config)
    rt.start(info.id)
    deadline = time.monotonic() + 60
    while rt.inspect(info.id).status != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return info.id


def texts(rt: ContainerRuntime, cid: str) -> list[str]:
    source = LogSource("c", "s", rt.log_path(cid))
    return [r["text"] for r in stream_logs(lambda: [source], False, -1, lambda: True)]


def test_a_log_rotates_within_max_size_times_max_file(rt: ContainerRuntime) -> None:
    settings = LogSettings(driver="json-file", max_size=16384, max_files=3, compress=False)
    cid = run_to_exit(rt, RunConfig(name="rot", image=BUSYBOX, init=False, log=settings,
                                    command=["sh", "-c", COUNT_LINES.format(n=5000)]))
    files = log_files(rt.log_path(cid))
    assert [f.name for f in files] == ["ctr.log.2", "ctr.log.1", "ctr.log"]
    assert all(f.stat().st_size <= settings.max_size for f in files)
    lines = texts(rt, cid)
    assert lines[-1] == "line 4999"
    first = int(lines[0].split()[1])
    assert lines == [f"line {i}" for i in range(first, 5000)]  # the newest lines, none lost between files
    assert log_size(rt.log_path(cid)) <= 3 * settings.max_size


def test_rotated_files_are_gzipped_and_read_back(rt: ContainerRuntime) -> None:
    settings = LogSettings(driver="local", max_size=16384, max_files=4, compress=True)
    cid = run_to_exit(rt, RunConfig(name="gz", image=BUSYBOX, init=False, log=settings,
                                    command=["sh", "-c", COUNT_LINES.format(n=4000)]))
    path = rt.log_path(cid)
    deadline = time.monotonic() + 10
    while any(not f.name.endswith(".gz") for f in log_files(path)[:-1]):  # the last compression may run still
        assert time.monotonic() < deadline
        time.sleep(0.05)
    files = log_files(path)
    assert [f.name for f in files] == ["ctr.log.3.gz", "ctr.log.2.gz", "ctr.log.1.gz", "ctr.log"]
    with gzip.open(files[0]) as f:
        assert f.readline().split(b" ", 3)[1] == b"stdout"
    lines = texts(rt, cid)
    first = int(lines[0].split()[1])
    assert lines == [f"line {i}" for i in range(first, 4000)]


def test_one_file_is_emptied_instead_of_rotated(rt: ContainerRuntime) -> None:
    settings = LogSettings(driver="json-file", max_size=8192, max_files=1, compress=False)
    cid = run_to_exit(rt, RunConfig(name="one", image=BUSYBOX, init=False, log=settings,
                                    command=["sh", "-c", COUNT_LINES.format(n=3000)]))
    assert [f.name for f in log_files(rt.log_path(cid))] == ["ctr.log"]
    assert rt.log_path(cid).stat().st_size <= 8192
    assert texts(rt, cid)[-1] == "line 2999"


def test_driver_none_keeps_nothing(rt: ContainerRuntime) -> None:
    cid = run_to_exit(rt, RunConfig(name="none", image=BUSYBOX, init=False, log=LogSettings(driver="none"),
                                    command=["sh", "-c", "echo quiet"]))
    assert log_files(rt.log_path(cid)) == []
    assert rt.inspect(cid).exit_code == 0
