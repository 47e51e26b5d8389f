"""The CLI's end of a terminal session: detach keys, the driver's loop over the shim's frames."""

from __future__ import annotations

import json
import socket
import struct

import pytest

from orchestrator.cli import session
from orchestrator.errors import PyorchError


def test_detach_keys_in_dockers_syntax() -> None:
    assert session.parse_detach_keys(session.DEFAULT_DETACH_KEYS) == b"\x10\x11"
    assert session.parse_detach_keys("ctrl-a,x") == b"\x01x"
    assert session.parse_detach_keys("") == b""
    with pytest.raises(PyorchError):
        session.parse_detach_keys("ctrl-ab")


@pytest.mark.parametrize(("typed", "sent", "detached"), [
    ([b"ls\r"], b"ls\r", False),
    ([b"a\x10\x11b"], b"a", True),
    ([b"a\x10", b"\x11"], b"a", True),          # the sequence split across reads
    ([b"\x10x"], b"\x10x", False),               # Ctrl-P typed for the process (a shell's history)
    ([b"\x10\x10\x11"], b"\x10", True),          # Ctrl-P twice, then Ctrl-Q
])
def test_the_detach_sequence_is_found_and_nothing_else_is_held(typed: list[bytes], sent: bytes,
                                                               detached: bool) -> None:
    scanner = session.DetachScanner(b"\x10\x11")
    out, seen = b"", False
    for chunk in typed:
        data, seen = scanner.feed(chunk)
        out += data
        if seen:
            break
    assert (out, seen) == (sent, detached)


def test_the_loop_prints_output_and_returns_the_exit_code(capfd: pytest.CaptureFixture[str]) -> None:
    mine, theirs = socket.socketpair()
    mine.sendall(session.frame(session.STDOUT, b"out\n") + session.frame(session.STDERR, b"err\n")
                 + session.frame(session.EXIT, json.dumps({"exit_code": 42}).encode()))
    mine.close()
    assert session.run(theirs, session.Options(tty=False, stdin=False)) == 42
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("out\n", "err\n")


def test_a_session_cut_without_an_exit_is_an_error() -> None:
    mine, theirs = socket.socketpair()
    mine.sendall(session.frame(session.STDOUT, b"partial"))
    mine.close()
    with pytest.raises(PyorchError, match="without the process's exit status"):
        session.run(theirs, session.Options(tty=False, stdin=False))


def test_sizes_are_two_shorts() -> None:
    assert session.SIZE.pack(24, 80) == struct.pack("!HH", 24, 80)
