"""One attached client in the shim: frames in (input, resize, detach, signals), frames out
(output, exit), never blocking the shim (session.py has the frames). Standard library only.
"""

from __future__ import annotations

import json
import os
import select
import socket
from typing import Any, Protocol

from runtime.container import session as kinds
from runtime.container.frames import Decoder, FrameError, encode
from runtime.container.shim_loop import Loop

HIGH_WATER = 1 << 20  # bytes queued for a client before the process's output is read no more
LOW_WATER = HIGH_WATER // 4


class Target(Protocol):
    """What a session drives: the stdio of a container or of an exec'd process (shim_stdio.py)."""

    def input(self, data: bytes) -> None: ...
    def close_input(self) -> None: ...
    def resize(self, rows: int, cols: int) -> None: ...
    def signal(self, signum: int) -> None: ...
    def session_gone(self, session: Session) -> None: ...
    def may_resume(self) -> None: ...


class Session:
    def __init__(self, loop: Loop, sock: socket.socket, target: Target, stdin: bool) -> None:
        self.loop = loop
        self.sock = sock
        self.target = target
        self.stdin = stdin
        self.detached = False
        self.closing = False  # the exit was sent: close once the client has it all
        self.closed = False
        self.reading = True  # False while the process has a megabyte of this client's input to take
        self._decoder = Decoder()
        self._out = bytearray()
        sock.setblocking(False)
        self.fd = sock.fileno()
        loop.add(self.fd, self._events, select.EPOLLIN)

    def queued(self) -> int:
        return len(self._out)

    def read_input(self, reading: bool) -> None:
        if reading != self.reading and not self.closed:
            self.reading = reading
            self._update()

    def _update(self) -> None:
        self.loop.modify(self.fd, (select.EPOLLIN if self.reading else 0) | (select.EPOLLOUT if self._out else 0))

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        if self.closed:
            return
        self._out += encode(kind, payload)
        self._flush()

    def finish(self, exit_info: dict[str, Any]) -> None:
        """The process has exited and its output is all sent: say how, then hang up."""
        self.send(kinds.EXIT, json.dumps(exit_info).encode())
        self.closing = True
        if not self._out:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.remove(self.fd)
        self.sock.close()
        self.target.session_gone(self)

    # --- the loop's side ---------------------------------------------------------------------------
    def _events(self, mask: int) -> None:
        if mask & select.EPOLLOUT:
            self._flush()
        if not self.closed and mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
            self._read()

    def _flush(self) -> None:
        while self._out:
            try:
                sent = self.sock.send(self._out)
            except BlockingIOError:
                break
            except OSError:
                self.close()
                return
            del self._out[:sent]
        if self.closing and not self._out:
            self.close()
            return
        self._update()
        if len(self._out) < LOW_WATER:
            self.target.may_resume()

    def _read(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        try:
            frames = self._decoder.feed(data)
        except FrameError:
            self.close()
            return
        for kind, payload in frames:
            self._handle(kind, payload)

    def _handle(self, kind: bytes, payload: bytes) -> None:
        if kind == kinds.STDIN and self.stdin:
            self.target.input(payload)
        elif kind == kinds.STDIN_CLOSE and self.stdin:
            self.target.close_input()
        elif kind == kinds.RESIZE and len(payload) == kinds.SIZE.size:
            self.target.resize(*kinds.SIZE.unpack(payload))
        elif kind == kinds.DETACH:
            self.detached = True
        elif kind == kinds.SIGNAL and len(payload) == kinds.SIGNUM.size:
            self.target.signal(kinds.SIGNUM.unpack(payload)[0])


def pair(loop: Loop, target: Target, stdin: bool) -> tuple[Session, socket.socket]:
    """A new session for ``target`` and the client's end of it (to hand over, then close here)."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    return Session(loop, mine, target, stdin), theirs


def close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
