"""Containers the shim did not fork: those of a shim that died, adopted by the next one.

When pyorch-shim is killed its containers keep running, re-parented to the host's init, so the
next shim cannot wait() for them. It watches each through a pidfd (pidfd_open + poll: readable
once the process has exited) and learns the exit status where the kernel keeps it for a
non-parent: from /proc/<pid>/stat (field 52, the wait status) while the process is a zombie its
reaper has not collected yet, else with PIDFD_GET_INFO/PIDFD_INFO_EXIT (kernel ≥ 6.15, which
keeps the status with the pidfd after the reap). Where neither has it the exit is unknown.

Output: the container's stdout and stderr pipes lost their reader with the dead shim; the new
one opens them again through /proc/<pid>/fd/1 and /2 (a pipe opened there is the same pipe).
What was written between the two shims is lost: the writer got EPIPE (or died of SIGPIPE, its
restart policy then applies). A terminal's master died with the shim: such a container's output
is not recovered. Standard library only.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct

from runtime.container.state import stat_fields

PIDFD_GET_INFO = 0xC040FF0B  # _IOWR(0xFF, 11, struct pidfd_info v0: 64 bytes)
PIDFD_INFO_EXIT = 1 << 3
_EXIT_CODE_OFFSET = 60


def open_pidfd(pid: int, start_time: int) -> int | None:
    """A pidfd for ``pid`` if it is still the process that started at ``start_time`` (clock ticks
    since boot, field 22); None when it is gone or the pid was reused. A zombie counts: its exit
    status is still there to read."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return None
    fields = stat_fields(pid)  # read after the pidfd is held: the pid cannot be reused meanwhile
    if fields is None or int(fields[19]) != start_time:
        os.close(fd)
        return None
    return fd


def exit_status(pid: int, pidfd: int, start_time: int) -> int | None:
    """The wait status of a process that has exited and is not our child; None when unknown."""
    fields = stat_fields(pid)
    if fields is not None and fields[0] == "Z" and int(fields[19]) == start_time and len(fields) > 49:
        return int(fields[49])  # field 52: the exit code in waitpid's form
    return pidfd_exit_status(pidfd)


def pidfd_exit_status(pidfd: int) -> int | None:
    """The wait status the kernel keeps with a pidfd once its process is reaped (PIDFD_GET_INFO
    with PIDFD_INFO_EXIT, kernel ≥ 6.15); None where it keeps none (features.py probes this)."""
    info = bytearray(64)
    struct.pack_into("<Q", info, 0, PIDFD_INFO_EXIT)
    try:
        fcntl.ioctl(pidfd, PIDFD_GET_INFO, info)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTTY, errno.ESRCH, errno.EOPNOTSUPP):
            raise
        return None
    mask, = struct.unpack_from("<Q", info, 0)
    if not mask & PIDFD_INFO_EXIT:
        return None
    status, = struct.unpack_from("<i", info, _EXIT_CODE_OFFSET)
    return int(status)


def decode(status: int) -> tuple[int, int]:
    """(exit code as Docker shows it, signal): 128 + signal for a process killed by one."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 128 + sig, sig
    return os.WEXITSTATUS(status), 0


def reopen_output(pid: int) -> list[tuple[int, str]]:
    """The read ends of the process's stdout and stderr pipes, opened again (non-blocking);
    a descriptor that is not a pipe (a terminal, a file it redirected to) is left alone."""
    opened: list[tuple[int, str]] = []
    seen: set[int] = set()
    for number, stream in ((1, "stdout"), (2, "stderr")):
        path = f"/proc/{pid}/fd/{number}"
        try:
            if not stat.S_ISFIFO(os.stat(path).st_mode):
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        inode = os.fstat(fd).st_ino
        if inode in seen:  # stderr into the same pipe as stdout
            os.close(fd)
            continue
        seen.add(inode)
        opened.append((fd, stream))
    return opened
