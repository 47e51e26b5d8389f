"""Reading and writing cgroup interface files, and removing cgroup directories.

Writes use ``O_WRONLY | O_TRUNC`` without ``O_CREAT``: cgroupfs creates every interface file
itself, so a missing file means a missing controller, and that must fail instead of leaving a
stray regular file behind (and fixture trees behave the same way).
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Callable
from pathlib import Path

from runtime.cgroups.errors import CgroupBusy, CgroupError, ControllerUnavailable


def read(path: Path) -> str:
    """The file's text, stripped; "" if it is not there (a controller this cgroup lacks)."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def read_int(path: Path) -> int | None:
    """An integer file; None for "max", absent or unparsable."""
    text = read(path)
    try:
        return int(text)
    except ValueError:
        return None


def read_keyed(path: Path) -> dict[str, int]:
    """Flat keyed files (``key value`` per line): memory.events, cpu.stat, memory.oom_control …"""
    out: dict[str, int] = {}
    for line in read(path).splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def write(path: Path, value: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise ControllerUnavailable(f"cannot set {path.name}: {path} does not exist "
                                    "(controller not available for this cgroup)") from exc
    except OSError as exc:
        raise CgroupError(f"cannot open {path}: {exc.strerror}") from exc
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        raise CgroupError(f"cannot write {value!r} to {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def write_pid(procs: Path, pid: int, attempts: int = 10) -> None:
    """Move ``pid`` into a cgroup; EINVAL while the task is still being set up is retried (as runc)."""
    for attempt in range(attempts):
        try:
            write(procs, str(pid))
            return
        except CgroupError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, OSError) and cause.errno == errno.EINVAL) or attempt == attempts - 1:
                raise
            time.sleep(0.03)


def remove_tree(directory: Path, attempts: int = 10) -> None:
    """rmdir a cgroup, its child cgroups first; EBUSY (tasks still leaving) is retried with backoff.

    Only directories are removed: cgroupfs interface files vanish with their directory.
    """
    try:  # d_type from the directory read: no stat of each interface file (~30 per v1 leaf)
        with os.scandir(directory) as entries:
            children = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CgroupError(f"cannot list {directory}: {exc.strerror}") from exc
    for child in children:
        remove_tree(child, attempts)
    delay = 0.001
    for attempt in range(attempts):
        try:
            os.rmdir(directory)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY) or attempt == attempts - 1:
                raise CgroupBusy(f"cannot remove cgroup {directory}: {exc.strerror}") from exc
        time.sleep(delay)
        delay *= 2


def wait_events(events: Path, key: str, want: int, timeout: float) -> bool:
    """Wait until ``key`` in a cgroup2 events file (cgroup.events) reads ``want``.

    The kernel signals every change of the file as POLLPRI, so this sleeps in poll() instead of
    spinning; a short poll slice also covers files that do not notify (fixture trees).
    """
    deadline = time.monotonic() + timeout
    try:
        fd = os.open(events, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        poller = select.poll()
        poller.register(fd, select.POLLPRI | select.POLLERR)
        while True:
            os.lseek(fd, 0, os.SEEK_SET)
            text = os.read(fd, 4096).decode()
            for line in text.splitlines():
                name, _, value = line.partition(" ")
                if name == key and value.strip() == str(want):
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            poller.poll(min(remaining, 0.1) * 1000)
    finally:
        os.close(fd)


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll a condition with a growing sleep (v1 has no change notification on cgroup.procs)."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


Write = tuple[Path, str]


def apply(writes: list[Write]) -> None:
    """Write (file, value) pairs in order; a write refused with EINVAL is retried once after the rest.

    Some limits are checked against each other by the kernel (cfs period against quota, v1 memory
    against memory+swap): when the plan's order meets the old values badly, writing the other
    value first makes the refused one valid, as runc does for cpu.cfs_*.
    """
    deferred: list[tuple[Write, CgroupError]] = []
    for path, value in writes:
        try:
            write(path, value)
        except CgroupError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, OSError) and cause.errno == errno.EINVAL):
                raise
            deferred.append(((path, value), exc))
    for (path, value), first_error in deferred:
        try:
            write(path, value)
        except CgroupError:
            raise first_error from first_error.__cause__
