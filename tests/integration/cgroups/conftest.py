"""A private instance tag per test, and a check that no cgroup named after it survives the test."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.cgroups import CgroupManager, open_cgroups
from runtime.layout import HostLayout

CGROUP_ROOT = Path("/sys/fs/cgroup")


def leftover_dirs(tag: str) -> list[str]:
    """Every directory anywhere under /sys/fs/cgroup whose name carries ``tag``."""
    found = []
    for directory, subdirs, _files in os.walk(CGROUP_ROOT):
        found += [os.path.join(directory, d) for d in subdirs if tag in d]
    return found


@pytest.fixture
def host(tmp_path: Path) -> Iterator[HostLayout]:
    layout = HostLayout(state_root=tmp_path, run_root=tmp_path / "run", instance="t" + secrets.token_hex(3))
    yield layout
    leaks = leftover_dirs(layout.instance)
    for path in sorted(leaks, key=len, reverse=True):  # clean up so the next test starts clean
        try:
            os.rmdir(path)
        except OSError:
            pass
    assert not leaks, f"cgroups left behind: {leaks}"


Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start processes that are killed and reaped after the test, whatever happens."""
    started: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], procs_files: list[str] | None = None, **kwargs: object) -> subprocess.Popen[bytes]:
        def join() -> None:  # what the runtime's forked child does: write its own pid, plain os calls
            for procs in procs_files or []:
                fd = os.open(procs, os.O_WRONLY)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)

        proc: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
            args, preexec_fn=join if procs_files else None, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still frozen: thaw every freezer it is in, then reap
            for line in Path(f"/proc/{proc.pid}/cgroup").read_text().splitlines():
                if ":freezer:" in line:
                    (CGROUP_ROOT / "freezer" / line.split(":", 2)[2].lstrip("/") / "freezer.state").write_text("THAWED")
            proc.wait(timeout=30)


@pytest.fixture
def mgr(host: HostLayout, spawn: Spawn) -> Iterator[CgroupManager]:
    """The manager for this host; every cgroup the test made is killed and removed afterwards
    (before `spawn` reaps: a frozen process would otherwise never exit)."""
    manager = open_cgroups(host)
    yield manager
    for name in manager.list():
        cgroup = manager.open(name)
        if cgroup is not None:
            cgroup.kill()
            cgroup.remove()
    manager.remove_parent()


