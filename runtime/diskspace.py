"""A full filesystem: telling it from other errors, and naming it to a person.

A full disk is not a bug to report with a traceback: a person frees space and tries again. So
the errors it causes (ENOSPC, EDQUOT, SQLite's "database or disk is full", whatever wraps them)
are recognised here, and the filesystem is named by its mount point, its type and what is free.
Standard library only (the shim uses it).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# Less than this free on the state root and pyorch takes no new work: the create of a container
# writes its record, its hosts files and its overlay's first files, the store its WAL.
MIN_FREE_BYTES = 1 << 20


def is_no_space(exc: BaseException | None) -> bool:
    """``exc``, or an error it was raised from or during, says the filesystem is full."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:
            return True
        if "database or disk is full" in str(exc) or "No space left on device" in str(exc):
            return True  # sqlite3.OperationalError (SQLITE_FULL), or a message that carried an ENOSPC
        exc = exc.__cause__ or exc.__context__
    return False


@dataclass(frozen=True)
class Filesystem:
    mount_point: str
    fs_type: str
    free_bytes: int
    size_bytes: int

    def describe(self) -> str:
        return f"{self.mount_point} ({self.fs_type}, {_size(self.free_bytes)} free of {_size(self.size_bytes)})"


def filesystem_of(path: Path) -> Filesystem:
    """The mounted filesystem that holds ``path`` (the deepest mount point above it)."""
    resolved = os.path.realpath(path)
    mount_point, fs_type = "/", "unknown"
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                point = fields[4].encode().decode("unicode_escape")  # \040 for a space
                dash = fields.index("-")
                inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(mount_point):
                    mount_point, fs_type = point, fields[dash + 1]
    except (OSError, ValueError, IndexError):
        pass
    try:
        st = os.statvfs(resolved)
        free, size = st.f_bfree * st.f_frsize, st.f_blocks * st.f_frsize
    except OSError:
        free = size = 0
    return Filesystem(mount_point, fs_type, free, size)


def full_message(root: Path) -> str:
    """What a person reads when pyorch cannot write under ``root`` for want of space."""
    fs = filesystem_of(root)
    return (f"no space left on the filesystem at {fs.describe()}, which holds pyorch's state "
            f"({root}): free some space there and run the command again; running containers keep "
            "running, and ps, logs, events and inspect still answer")


def has_room(root: Path, need: int = MIN_FREE_BYTES) -> bool:
    try:
        st = os.statvfs(root)
    except OSError:
        return True  # not ours to judge: the write itself will say
    return st.f_bfree * st.f_frsize >= need and (st.f_files == 0 or st.f_ffree > 16)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"
