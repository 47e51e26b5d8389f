"""A process's stdio as the shim holds it: the output it reads (pipes, or a pty's master), where
that goes (a container's log, attached sessions), and the input it writes (a stdin pipe, or the
master). Standard library only.

Output is read as it comes, unless an attached client falls more than a megabyte behind: then
it is read no more until the client catches up, so a slow terminal slows the process (as
`docker attach` does) instead of the shim buffering without bound. Input is written as the
process takes it; a client sending faster is read no more meanwhile.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import struct
import termios
from collections.abc import Callable
from typing import Any

from runtime.container import session as kinds
from runtime.container.shim_logs import READ_SIZE, LogFile
from runtime.container.shim_loop import Loop
from runtime.container.shim_session import HIGH_WATER, Session, close_fd, pair
from runtime.fdwait import readable

DRAIN_WAIT_S = 0.2  # how long a source may stay silent while the last output is drained
INPUT_HIGH_WATER = 1 << 20


class Stdio:
    def __init__(self, loop: Loop, log: LogFile | None, pid: int, hang_up_when_left: bool = False) -> None:
        self.loop = loop
        self.log = log
        self.pid = pid  # whom SIGNAL frames and a hang-up reach
        self.hang_up_when_left = hang_up_when_left  # an exec: its client leaving ends it
        self.sources: dict[int, bytes] = {}  # fd → the frame kind of its output
        self.master = -1
        self.stdin_fd = -1
        self.accepts_input = False
        self.pending_input = bytearray()
        self.close_input_after = False
        self.sessions: list[Session] = []
        self.paused = False
        self.finished = False
        # (lines, bytes, since) of output a full disk made the log drop, once the log said so
        self.on_log_drops: Callable[[int, int, float], None] | None = None

    # --- setup -------------------------------------------------------------------------------------
    def add_source(self, fd: int, stream: str) -> None:
        os.set_blocking(fd, False)
        self.sources[fd] = kinds.STDOUT if stream == "stdout" else kinds.STDERR
        self._watch(fd)

    def set_terminal(self, master: int, accepts_input: bool) -> None:
        """A pty's master: the process's output and, when its stdin is open, its input."""
        os.set_blocking(master, False)
        self.master = master
        self.sources[master] = kinds.STDOUT
        if accepts_input:
            self.stdin_fd, self.accepts_input = master, True
        self._watch(master)

    def set_stdin(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self.stdin_fd, self.accepts_input = fd, True

    def attach(self, stdin: bool) -> int:
        """A new client: returns the descriptor of its end (the caller hands it over, then closes it)."""
        session, theirs = pair(self.loop, self, stdin and self.accepts_input)
        self.sessions.append(session)
        return theirs.detach()

    # --- output ------------------------------------------------------------------------------------
    def _read(self, fd: int) -> bool:
        """One read of a source; False once it is at its end."""
        try:
            data = os.read(fd, self.log.read_size() if self.log is not None else READ_SIZE)
        except BlockingIOError:
            return True
        except OSError as exc:  # EIO: a pty whose other side is closed everywhere
            if exc.errno not in (errno.EIO, errno.EBADF):
                raise
            data = b""
        if not data:
            self._end_source(fd)
            return False
        kind = self.sources[fd]
        if self.log is not None:
            self.log.write("stdout" if kind == kinds.STDOUT else "stderr", data)
            drops = self.log.take_drops()
            if drops is not None and self.on_log_drops is not None:
                self.on_log_drops(*drops)
        for session in list(self.sessions):
            session.send(kind, data)
        if not self.paused and any(s.queued() > HIGH_WATER for s in self.sessions):
            self.paused = True
            for source in self.sources:
                self._watch(source)
        return True

    def may_resume(self) -> None:
        if self.paused and all(s.queued() <= HIGH_WATER for s in self.sessions):
            self.paused = False
            for source in self.sources:
                self._watch(source)

    def drain(self) -> None:
        """Copy what is left (the process has exited); a source still held open by a stray
        process is given up after a short silence."""
        for fd in list(self.sources):
            while fd in self.sources:
                if not readable([fd], DRAIN_WAIT_S) or not self._read(fd):
                    break

    def _end_source(self, fd: int) -> None:
        self.sources.pop(fd, None)
        if fd == self.master:
            self.loop.remove(fd)  # kept open: the end of input writes and resizes, closed at the end
        else:
            self.loop.remove(fd)
            close_fd(fd)

    # --- input -------------------------------------------------------------------------------------
    def input(self, data: bytes) -> None:
        if self.stdin_fd < 0 or self.close_input_after:
            return
        self.pending_input += data
        self._write_input()

    def close_input(self) -> None:
        self.close_input_after = True
        self._write_input()

    def _write_input(self) -> None:
        while self.pending_input and self.stdin_fd >= 0:
            try:
                written = os.write(self.stdin_fd, self.pending_input)
            except BlockingIOError:
                break
            except OSError:  # the process closed its stdin
                self.pending_input.clear()
                self._drop_stdin()
                return
            del self.pending_input[:written]
        if not self.pending_input and self.close_input_after and self.stdin_fd != self.master:
            self._drop_stdin()
        if self.stdin_fd >= 0:
            self._watch(self.stdin_fd)
        for session in self.sessions:
            session.read_input(len(self.pending_input) <= INPUT_HIGH_WATER)

    def _drop_stdin(self) -> None:
        fd, self.stdin_fd = self.stdin_fd, -1
        if fd >= 0 and fd != self.master:
            self.loop.remove(fd)
            close_fd(fd)

    def resize(self, rows: int, cols: int) -> None:
        if self.master >= 0:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))  # struct winsize

    def signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except (OSError, ValueError):
            pass

    # --- the loop's view ---------------------------------------------------------------------------
    def _watch(self, fd: int) -> None:
        """Register ``fd`` for what it is waited on for now: output (unless paused), input room."""
        events = 0
        if fd in self.sources and not self.paused:
            events |= select.EPOLLIN
        if fd == self.stdin_fd and self.pending_input:
            events |= select.EPOLLOUT
        if not events:  # unregistered: a hung-up pipe would wake the loop over and over
            self.loop.remove(fd)
        elif self.loop.watches(fd):
            self.loop.modify(fd, events)
        else:
            self.loop.add(fd, lambda mask: self._ready(fd, mask))

    def _ready(self, fd: int, mask: int) -> None:
        if fd == self.stdin_fd and mask & (select.EPOLLOUT | select.EPOLLERR):
            if mask & select.EPOLLERR and fd != self.master:
                self.pending_input.clear()
                self._drop_stdin()
            else:
                self._write_input()
        if fd in self.sources and mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
            self._read(fd)

    # --- the end -----------------------------------------------------------------------------------
    def session_gone(self, session: Session) -> None:
        if session in self.sessions:
            self.sessions.remove(session)
        if self.hang_up_when_left and not self.finished and not session.detached and not self.sessions:
            self.hang_up()
        self.may_resume()

    def hang_up(self) -> None:
        """The client left without detaching: as when a terminal closes, the process gets SIGHUP
        (the pty's hang-up reaches its session; a pipe's process gets it by its group)."""
        self._drop_stdin()
        if self.master >= 0:
            self.loop.remove(self.master)
            self.sources.pop(self.master, None)
            close_fd(self.master)
            self.master = -1
        try:
            os.killpg(self.pid, signal.SIGHUP)  # an exec'd process leads its own group
        except OSError:
            try:
                os.kill(self.pid, signal.SIGHUP)
            except OSError:
                pass

    def finish(self, exit_info: dict[str, Any]) -> None:
        """The process has exited and its output is drained: the clients get the exit, the
        descriptors close (the log stays the container's)."""
        self.finished = True
        for session in list(self.sessions):
            session.finish(exit_info)
        self._close_fds()

    def close(self) -> None:
        """Everything goes (the container is forgotten)."""
        self.finished = True
        for session in list(self.sessions):
            session.close()
        self._close_fds()
        if self.log is not None:
            self.log.close()

    def _close_fds(self) -> None:
        self._drop_stdin()
        for fd in list(self.sources):
            self._end_source(fd)
        if self.master >= 0:
            self.loop.remove(self.master)
            close_fd(self.master)
            self.master = -1
