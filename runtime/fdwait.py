"""Waiting for descriptors to turn readable, whatever their number.

`select.select` refuses descriptors from FD_SETSIZE (1024) on. The shim holds several per
container (a pidfd, stdio pipes, the setup channel) and the engine its clients' sockets and the
probes' pipes, so with a few hundred containers their numbers pass 1024 and select raised
"filedescriptor out of range in select()" in the middle of an `up` of 400 replicas (issue 17).
poll(2) has no such limit.
"""

from __future__ import annotations

import select
from collections.abc import Iterable
from typing import Protocol


class HasFileno(Protocol):
    def fileno(self) -> int: ...


def readable(fds: Iterable[int | HasFileno], timeout: float | None) -> list[int]:
    """The descriptors among ``fds`` that are readable (or hung up, or in error: a read tells
    which) within ``timeout`` seconds (None: no limit; 0: now)."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN | select.POLLPRI)
    wait_ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
    return [fd for fd, _ in poller.poll(wait_ms)]
