"""Cgroups made ahead of time for the shim's warm PID 1, named after the next container's id.

Moving a process into a cgroup waits for an RCU grace period (the kernel's threadgroup rwsem is
taken for writing): about 6 ms here, the largest single cost of a start, paid once per batch of
moves. The shim pays it while idle: it makes `<parent>/<id>` in every hierarchy and moves the warm
process in; the next create takes `<id>` as its container id (`reserve`) and only writes limits.
Standard library only (the shim imports it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class SpareConfig:
    """Where the runtime keeps its containers' cgroups: one parent per hierarchy."""
    parents: tuple[str, ...]
    cpuset_parent: str | None  # a v1 cpuset child needs cpus and mems before a process may join

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> SpareConfig:
        parents = raw.get("parents")
        cpuset = raw.get("cpuset_parent")
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise ValueError("spare cgroups: parents must be a list of paths")
        return cls(tuple(parents), cpuset if isinstance(cpuset, str) else None)


def place(config: SpareConfig, pid: int, made: list[str], record: str) -> str:
    """Make the cgroups of a future container and move ``pid`` in; returns the id. ``made``
    collects the directories as they are made, so a caller can remove them after a failure (once
    ``pid`` is gone: a cgroup holding a process cannot be removed). They are noted in ``record``
    before the first is made: a shim killed half way leaves them for the next one to sweep."""
    cid = os.urandom(32).hex()
    note(record, [os.path.join(parent, cid) for parent in config.parents])
    for parent in config.parents:
        path = os.path.join(parent, cid)
        os.mkdir(path)
        made.append(path)
        if parent == config.cpuset_parent:
            for key in ("cpuset.cpus", "cpuset.mems"):
                _copy(os.path.join(parent, key), os.path.join(path, key))
    for path in made:
        with open(os.path.join(path, "cgroup.procs"), "w") as procs:
            procs.write(str(pid))
    return cid


def remove(directories: list[str]) -> list[str]:
    """rmdir each (empty) cgroup; returns those still there (holding a process: one that was
    exiting when it was moved out stays behind until it is reaped, as the kernel does not move
    an exiting task)."""
    left = []
    for path in reversed(directories):
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            left.append(path)
    return left[::-1]


def note(record: str, directories: list[str]) -> None:
    """Remember an unclaimed spare on disk, so a shim started after this one died (SIGKILL: its
    warm process ends with it) can remove what is left (`sweep`)."""
    tmp = record + ".tmp"
    with open(tmp, "w") as f:
        json.dump(directories, f)
    os.replace(tmp, record)


def forget(record: str) -> None:
    """The spare was taken by a container or removed: nothing to sweep."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(record)


def sweep(record: str, deadline_s: float = 2.0) -> None:
    """Remove the spare a previous shim left unclaimed. Its warm process dies with that shim, but
    not at once: a shim started right after a SIGKILL finds it still there (a new shim is started
    as soon as the engine notices the death), so it is killed here and waited for; only a spare
    still held after ``deadline_s`` stays listed (for the next shim)."""
    try:
        with open(record) as f:
            directories = json.load(f)
    except (OSError, ValueError):
        directories = []
    left = [d for d in directories if isinstance(d, str)] if isinstance(directories, list) else []
    deadline = time.monotonic() + deadline_s
    while left:
        left = remove(left)
        if not left or time.monotonic() > deadline:
            break
        for path in left:
            _kill_members(path)
        time.sleep(0.01)
    if left:
        note(record, left)
    else:
        forget(record)


def _kill_members(cgroup: str) -> None:
    """SIGKILL every process in ``cgroup`` (a dead shim's warm process: nobody's container)."""
    try:
        with open(os.path.join(cgroup, "cgroup.procs")) as f:
            pids = [int(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _copy(source: str, target: str) -> None:
    with open(source) as f:
        value = f.read().strip()
    with open(target, "w") as f:
        f.write(value)
