"""A container's output in the shim: its stdout and stderr pipes, copied into its log file.

The shim, not the engine, holds the pipes, so SIGKILL of the engine loses no line (conmon's
ctr_logging.c plays this part). Standard library only.
"""

from __future__ import annotations

import os
import select

from runtime.container.logfile import encode_records
from runtime.container.shim_loop import Loop

READ_SIZE = 65536
DRAIN_WAIT_S = 0.2  # how long a pipe may stay silent while the last output is drained


class LogFile:
    """The container's log, in the k8s-file format (logfile.py), opened once, appended to."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def write(self, stream: str, data: bytes) -> None:
        os.write(self.fd, encode_records(stream, data))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Output:
    """The read ends of a container's stdout and stderr, served by the loop into its log."""

    def __init__(self, loop: Loop, log: LogFile) -> None:
        self.loop = loop
        self.log = log
        self.pipes: dict[int, str] = {}  # read fd → stream name

    def add(self, fd: int, stream: str) -> None:
        os.set_blocking(fd, False)
        self.pipes[fd] = stream
        self.loop.add(fd, lambda _events: self.pump(fd))

    def pump(self, fd: int) -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_pipe(fd)
            return
        self.log.write(self.pipes[fd], data)

    def drain(self) -> None:
        """Copy what is left in the pipes (the last output comes before the exit is announced); a
        pipe still held open by a stray process stays registered."""
        for fd in list(self.pipes):
            while fd in self.pipes:
                ready, _, _ = select.select([fd], [], [], DRAIN_WAIT_S)
                if not ready:
                    break
                self.pump(fd)

    def close(self) -> None:
        for fd in list(self.pipes):
            self._close_pipe(fd)
        self.log.close()

    def _close_pipe(self, fd: int) -> None:
        self.loop.remove(fd)
        del self.pipes[fd]
        os.close(fd)
