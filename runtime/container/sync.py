"""The messages between the shim and the processes that set a container or an exec up, defined
once for both ends (as youki's process/message.rs and channel.rs do).

Each process being set up gets one unix stream socketpair (`channel()`): the shim keeps one end,
the child inherits the other, close-on-exec. Messages are frames (frames.py); one that hands file
descriptors over carries them (SCM_RIGHTS) on the same sendmsg, and the receiver pairs them with
their frame in order.

    child → shim   PID <n>       stage 1: the pid of stage 2 (the container's PID 1);
                                 exec: the pid of the process that will run the command
                   TERMINAL      stage 2 or exec, with a terminal: the pty's master (one fd),
                                 opened inside the container so that it belongs to its devpts
                   READY         stage 2: the root is built, waiting for START
                   ERROR <text>  setup failed: what the user sees
                   REFUSED <text>  setup failed because of the container's configuration (an
                                 unknown user, a command that is not there): trying again
                                 cannot help
    shim → child   STDIN         stage 2 (warm), before SPEC when stdin is open without a
                                 terminal: the read end of its stdin pipe (one fd)
                   SPEC <json>   stage 2 (warm): the container to become; end-of-file instead
                                 means the shim let this process go
                   ATTACHED      stage 2: PID 1 is in the container's cgroups; end-of-file
                                 instead means the create was given up
                   START         stage 2: exec the command; end-of-file instead: exit quietly

End-of-file after START (or, for an exec, after PID) means execve succeeded: the child's end
closed on exec. Standard library only.
"""

from __future__ import annotations

import enum
import socket
import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field

from runtime.container.frames import Decoder, encode
from runtime.fdwait import readable


class Kind(enum.Enum):
    PID = b"P"
    TERMINAL = b"T"
    READY = b"R"
    ERROR = b"E"
    REFUSED = b"F"
    STDIN = b"I"
    SPEC = b"C"
    ATTACHED = b"A"
    START = b"S"


# How many descriptors ride with a message of each kind (the others carry none).
_FDS: dict[Kind, int] = {Kind.TERMINAL: 1, Kind.STDIN: 1}
_MAX_FDS = 4
ERROR_LIMIT = 3900  # characters of an error message kept


@dataclass
class Message:
    kind: Kind
    payload: bytes = b""
    fds: list[int] = field(default_factory=list)


class Channel:
    """One end of a setup channel: send typed messages, receive them in order (with their fds)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._decoder = Decoder()
        self._frames: deque[tuple[bytes, bytes]] = deque()
        self._fds: deque[int] = deque()
        self._eof = False

    @classmethod
    def from_fd(cls, fd: int) -> Channel:
        return cls(socket.socket(fileno=fd))

    def fileno(self) -> int:
        return self.sock.fileno()

    def has_message(self) -> bool:
        """Whether `recv` has something without reading (a message decoded already, or end-of-file)."""
        return bool(self._frames) or self._eof

    def close(self) -> None:
        self.sock.close()

    def send(self, kind: Kind, payload: bytes = b"", fds: tuple[int, ...] = ()) -> None:
        data = encode(kind.value, payload)
        if fds:
            sent = socket.send_fds(self.sock, [data], list(fds))
            if sent < len(data):
                self.sock.sendall(data[sent:])
        else:
            self.sock.sendall(data)

    def recv(self, deadline: float | None = None) -> Message | None:
        """The next message; None at end-of-file. With a deadline (monotonic), TimeoutError after it."""
        while not self._frames:
            if self._eof:
                return None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not readable([self.sock], left):
                    if time.monotonic() >= deadline:
                        raise TimeoutError("container setup did not finish in time")
                    continue
            data, fds, _, _ = socket.recv_fds(self.sock, 65536, _MAX_FDS, socket.MSG_CMSG_CLOEXEC)
            self._fds.extend(fds)
            if not data:
                self._eof = True
            else:
                self._frames.extend(self._decoder.feed(data))
        raw_kind, payload = self._frames.popleft()
        try:
            kind = Kind(raw_kind)
        except ValueError:
            return Message(Kind.ERROR, b"unknown setup message " + raw_kind)
        return Message(kind, payload, [self._fds.popleft() for _ in range(_FDS.get(kind, 0)) if self._fds])


def channel() -> tuple[Channel, int]:
    """A new channel: the shim's end, and the descriptor a child inherits (both close-on-exec)."""
    shim_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    return Channel(shim_end), child_end.detach()


# --- the shim's side ---------------------------------------------------------------------------------

@dataclass
class Report:
    """What a child said until the awaited message, an error, or end-of-file."""
    pid: int = 0
    terminal: int = -1  # the pty's master, when the child made one (the caller closes it on failure)
    ready: bool = False
    error: str | None = None
    refused: bool = False  # the error is the configuration's (Kind.REFUSED): a retry fails the same way
    ended: bool = False  # end-of-file: the child's end closed (exec'd, or died)


def collect(ch: Channel, until: Kind | None, timeout: float) -> Report:
    """Read messages until one of kind ``until`` (None: end-of-file), an ERROR, or end-of-file."""
    deadline = time.monotonic() + timeout
    report = Report()
    while not _take(report, ch.recv(deadline), until):
        pass
    return report


def collect_steps(ch: Channel, until: Kind | None, timeout: float) -> Generator[tuple[int, float], None, Report]:
    """`collect` as a task of the shim's loop (shim_loop.py): it yields (fd, deadline) instead of
    blocking while nothing has arrived, so the shim serves others meanwhile."""
    deadline = time.monotonic() + timeout
    report = Report()
    while True:
        if not ch.has_message():
            yield ch.fileno(), deadline
        if _take(report, ch.recv(deadline), until):
            return report


def _take(report: Report, message: Message | None, until: Kind | None) -> bool:
    """Note ``message`` in ``report``; True when the collection is over."""
    if message is None:
        report.ended = True
        return True
    if message.kind is Kind.PID:
        report.pid = int(message.payload or b"0")
    elif message.kind is Kind.TERMINAL and message.fds:
        report.terminal = message.fds[0]
    elif message.kind is Kind.READY:
        report.ready = True
    elif message.kind in (Kind.ERROR, Kind.REFUSED):
        report.error = message.payload.decode(errors="replace")
        report.refused = message.kind is Kind.REFUSED
        return True
    return message.kind is until


def send_spec(ch: Channel, spec_json: bytes, stdin_fd: int | None = None) -> None:
    if stdin_fd is not None:
        ch.send(Kind.STDIN, fds=(stdin_fd,))
    ch.send(Kind.SPEC, spec_json)


def send_attached(ch: Channel) -> None:
    ch.send(Kind.ATTACHED)


def send_start(ch: Channel) -> None:
    ch.send(Kind.START)


# --- the child's side ------------------------------------------------------------------------------

def report_pid(ch: Channel, pid: int) -> None:
    ch.send(Kind.PID, str(pid).encode())


def hand_terminal(ch: Channel, master: int) -> None:
    ch.send(Kind.TERMINAL, fds=(master,))


def report_ready(ch: Channel) -> None:
    ch.send(Kind.READY)


def report_error(ch: Channel, text: str, refused: bool = False) -> None:
    """``refused``: the container's configuration makes the setup fail, so a retry would too."""
    ch.send(Kind.REFUSED if refused else Kind.ERROR, text.replace("\n", " ")[:ERROR_LIMIT].encode(errors="replace"))


def wait_spec(ch: Channel) -> tuple[bytes, int | None] | None:
    """The spec to become and, when its stdin is open, the read end of its stdin pipe; None when
    the shim let this process go."""
    stdin_fd: int | None = None
    while (message := ch.recv()) is not None:
        if message.kind is Kind.STDIN and message.fds:
            stdin_fd = message.fds[0]
        elif message.kind is Kind.SPEC:
            return message.payload, stdin_fd
    return None


def wait_attached(ch: Channel) -> bool:
    message = ch.recv()
    return message is not None and message.kind is Kind.ATTACHED


def wait_start(ch: Channel) -> bool:
    message = ch.recv()
    return message is not None and message.kind is Kind.START
