"""A netlink socket inside another process's network namespace, without forking.

`setns(CLONE_NEWNET)` changes only the calling thread, and a socket keeps the namespace it was
created in. So a short-lived thread enters the container's netns, opens the socket, does any
sysctl writes (/proc/sys/net follows the thread's netns), goes back, and exits; the fd is shared
with the rest of the process. pyroute2's own `IPRoute(netns=…)` forks a child for the same job,
about 9 ms slower (reference/runtime.md §6.3).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

from runtime.linux.syscalls import CLONE_NEWNET, setns
from runtime.network.errors import NetworkError

NETLINK_ROUTE = 0


def netlink_socket_in(pid: int, also: Callable[[], None] | None = None) -> int:
    """A NETLINK_ROUTE socket fd in the netns of ``pid``; ``also`` runs inside that netns too."""
    result: dict[str, int | BaseException] = {}

    def work() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            os.close(own)
            result["error"] = exc
            return
        try:
            setns(target, CLONE_NEWNET)
            try:
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
                result["fd"] = sock.detach()
                if also is not None:
                    also()
            finally:
                setns(own, CLONE_NEWNET)
        except BaseException as exc:
            result["error"] = exc
        finally:
            os.close(target)
            os.close(own)

    thread = threading.Thread(target=work, name=f"netns-{pid}")
    thread.start()
    thread.join()
    fd = result.get("fd")
    error = result.get("error")
    if isinstance(error, BaseException):
        if isinstance(fd, int):
            os.close(fd)
        raise NetworkError(f"cannot enter the network namespace of process {pid}: {error}")
    assert isinstance(fd, int)
    return fd
