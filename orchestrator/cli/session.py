"""The CLI's end of a terminal session: `exec`, `run` and `attach` once the engine has handed it over.

The other end is the shim, which holds the process's pty or pipes (docs/architecture.md,
"Terminal sessions"). Here: the local terminal in raw mode while a pty is attached (restored on
every way out), its size sent at start and on SIGWINCH, stdin forwarded (end of input included),
Docker's detach keys (Ctrl-P Ctrl-Q) to leave the process running, signals proxied to a process
without a terminal when asked (`--sig-proxy`), and the process's exit code returned.

The frames are runtime/container/session.py's, imported from there (a module of the standard
library alone, which the layering rules let the CLI import).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import termios
import tty as ttymode
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from orchestrator.errors import PyorchError
from runtime.container import frames
from runtime.container import session as wire

# The frames and their kinds are the shim's (runtime/container/session.py, frames.py): defined
# once for both ends, in modules of the standard library alone that the CLI may import.
STDIN, STDIN_CLOSE, RESIZE, DETACH, SIGNAL = wire.STDIN, wire.STDIN_CLOSE, wire.RESIZE, wire.DETACH, wire.SIGNAL
STDOUT, STDERR, EXIT = wire.STDOUT, wire.STDERR, wire.EXIT
HEADER, SIZE, SIGNUM = frames.HEADER, wire.SIZE, wire.SIGNUM

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
# What Docker's CLI forwards with --sig-proxy (not those it needs itself, nor SIGCHLD/SIGPIPE/SIGURG).
PROXIED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


@dataclass(frozen=True)
class Options:
    tty: bool                          # the process has a pty: raw mode here, sizes sent
    stdin: bool                        # our stdin goes to the process
    detach_keys: bytes = b"\x10\x11"   # empty: no detaching by keys
    sig_proxy: bool = False            # our signals go to the process (without a terminal)


def wants_tty(no_tty: bool) -> bool:
    """A pty unless refused, when both our stdin and stdout are terminals (as Compose decides)."""
    return not no_tty and sys.stdin.isatty() and sys.stdout.isatty()


def terminal_size() -> list[int] | None:
    """[rows, columns] of our terminal, for the pty made for the process."""
    for fd in (0, 1):
        if os.isatty(fd):
            size = os.get_terminal_size(fd)
            return [size.lines, size.columns]
    return None


def parse_detach_keys(text: str) -> bytes:
    """Docker's `--detach-keys`: comma-separated `ctrl-<letter>`, `ctrl-@`, `ctrl-[`…`ctrl-_`, or
    single characters; an empty string turns detaching off."""
    keys = bytearray()
    for item in (k.strip() for k in text.split(",") if k.strip()):
        if item.lower().startswith("ctrl-") and len(item) == 6:
            code = ord(item[5].upper()) - 64
            if not 0 <= code <= 31:
                raise PyorchError(f"invalid detach key {item!r}")
            keys.append(code)
        elif len(item) == 1:
            keys.append(ord(item))
        else:
            raise PyorchError(f"invalid detach key {item!r}: expected ctrl-<key> or one character")
    return bytes(keys)


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return frames.encode(kind, payload)


class DetachScanner:
    """Finds the detach sequence in what is typed; bytes that only began it are held back until
    the next key shows whether they were typed for the process."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes for the process, whether the sequence was typed)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for byte in data:
            self.held += bytes([byte])
            if self.held == self.keys:
                self.held = b""
                return bytes(out), True
            if self.keys.startswith(self.held):
                continue
            if self.keys.startswith(bytes([byte])):  # the sequence may begin again here
                out += self.held[:-1]
                self.held = bytes([byte])
            else:
                out += self.held
                self.held = b""
        return bytes(out), False


def run(sock: socket.socket, options: Options) -> int | None:
    """Drive the session until the process exits (its exit code) or the user detaches (None)."""
    with sock, _raw_terminal(options.tty and options.stdin), _wakeups(options) as wake_r:
        return _Loop(sock, options, wake_r).run()


class _Loop:
    def __init__(self, sock: socket.socket, options: Options, wake_r: int) -> None:
        self.sock = sock
        self.options = options
        self.wake_r = wake_r
        self.scanner = DetachScanner(options.detach_keys if options.tty else b"")
        self.selector = selectors.PollSelector()  # poll takes files and /dev/null as stdin too (epoll refuses)
        self.buf = b""
        self.exit_code: int | None = None

    def run(self) -> int | None:
        self.selector.register(self.sock, selectors.EVENT_READ, "session")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "signals")
        if self.options.stdin:
            self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
        if self.options.tty:
            self._send_size()
        while True:
            for key, _ in self.selector.select():
                if key.data == "session" and not self._from_session():
                    if self.exit_code is None:
                        raise PyorchError("the session ended without the process's exit status "
                                          "(pyorch-shim went away)")
                    return self.exit_code
                if key.data == "stdin" and self._from_stdin():
                    return None
                if key.data == "signals":
                    self._signals()

    def _send(self, kind: bytes, payload: bytes = b"") -> None:
        try:
            self.sock.sendall(frame(kind, payload))
        except OSError:
            pass  # the session is over: its end-of-file and exit come on the read side

    def _send_size(self) -> None:
        for fd in (sys.stdin.fileno(), sys.stdout.fileno()):
            if os.isatty(fd):
                size = os.get_terminal_size(fd)
                self._send(RESIZE, SIZE.pack(size.lines, size.columns))
                return

    def _from_session(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:  # the shim closed with our input unread: its end, all the same
            data = b""
        if not data:
            return False
        self.buf += data
        while len(self.buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.buf)
            if len(self.buf) < HEADER.size + length:
                break
            payload = self.buf[HEADER.size:HEADER.size + length]
            self.buf = self.buf[HEADER.size + length:]
            if kind == STDOUT:
                _write_all(sys.stdout.fileno(), payload)
            elif kind == STDERR:
                _write_all(sys.stderr.fileno(), payload)
            elif kind == EXIT:
                self.exit_code = int(json.loads(payload)["exit_code"])
        return True

    def _from_stdin(self) -> bool:
        """Forward what was typed; True when the user detached."""
        data = os.read(sys.stdin.fileno(), 65536)
        if not data:
            self.selector.unregister(sys.stdin.fileno())
            self._send(STDIN_CLOSE)
            return False
        data, detached = self.scanner.feed(data)
        if data:
            self._send(STDIN, data)
        if detached:
            self._send(DETACH)
        return detached

    def _signals(self) -> None:
        for number in os.read(self.wake_r, 512):
            if number == signal.SIGWINCH and self.options.tty:
                self._send_size()
            elif number in PROXIED and self.options.sig_proxy:
                self._send(SIGNAL, SIGNUM.pack(number))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@contextmanager
def _raw_terminal(wanted: bool) -> Iterator[None]:
    """Raw mode on our terminal while a pty is attached: every key goes to the process (Ctrl-C,
    Ctrl-Z, Ctrl-D become bytes its line discipline turns into signals or end-of-file)."""
    if not wanted or not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        ttymode.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextmanager
def _wakeups(options: Options) -> Iterator[int]:
    """Signals as bytes on a pipe the loop reads (never handled in the middle of a send)."""
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    wanted = ([signal.SIGWINCH] if options.tty else []) + (list(PROXIED) if options.sig_proxy else [])
    saved = {number: signal.signal(number, lambda *_: None) for number in wanted}
    previous = signal.set_wakeup_fd(wake_w)
    try:
        yield wake_r
    finally:
        signal.set_wakeup_fd(previous)
        for number, handler in saved.items():
            signal.signal(number, handler)
        os.close(wake_r)
        os.close(wake_w)
