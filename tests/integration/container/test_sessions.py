"""Terminal sessions at the runtime's door: a pty made inside the container, input, resizing,
signals through the line discipline, exit codes, detaching, and a client that vanishes."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from runtime.container import session as kinds
from runtime.container.frames import Decoder, encode
from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.container.state import process_start_time

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"


class Client:
    """What the CLI does with its end of a session, by hand."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = Decoder()
        self.out = b""
        self.err = b""
        self.exit: int | None = None
        self.eof = False

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        self.sock.sendall(encode(kind, payload))

    def type(self, text: str) -> None:
        self.send(kinds.STDIN, text.encode())

    def read_until(self, check: object, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():  # type: ignore[operator]
            assert time.monotonic() < deadline, f"timed out; out={self.out[-400:]!r} err={self.err[-400:]!r}"
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                self.eof = True
                return
            for kind, payload in self.decoder.feed(data):
                if kind == kinds.STDOUT:
                    self.out += payload
                elif kind == kinds.STDERR:
                    self.err += payload
                elif kind == kinds.EXIT:
                    self.exit = int(json.loads(payload)["exit_code"])

    def wait_text(self, text: str) -> None:
        self.read_until(lambda: text.encode() in self.out)

    def wait_exit(self) -> int:
        self.read_until(lambda: self.eof)
        assert self.exit is not None, "the session ended without an exit"
        return self.exit


def gone(pid: int, started: int) -> None:
    """The process has exited and been reaped (the shim reaps just after it reports the exit). A
    process found at that pid with another start time is a new one: this host's pid_max is 32768
    and busy suites wrap it within minutes."""
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and process_start_time(pid) == started:
        assert time.monotonic() < deadline, f"process {pid} is still there"
        time.sleep(0.02)


def running(rt: ContainerRuntime, name: str, **extra: object) -> str:
    loop = "trap 'exit 0' TERM; while :; do sleep 0.1; done"
    info = rt.create(RunConfig(name=name, image=BUSYBOX, command=["sh", "-c", loop], **extra))  # type: ignore[arg-type]
    rt.start(info.id)
    return info.id


def test_an_exec_with_a_terminal_answers_resizes_and_is_interrupted(rt: ContainerRuntime) -> None:
    cid = running(rt, "tty-exec")
    pid, sock = rt.exec_session(cid, ["sh"], env=["PS1=prompt$ "], tty=True, stdin=True, size=(24, 80))
    started = process_start_time(pid)
    client = Client(sock)
    client.wait_text("prompt$ ")
    client.type("tty; stty size\r")
    client.wait_text("24 80")
    assert b"/dev/pts/0" in client.out  # the container's own devpts
    client.send(kinds.RESIZE, kinds.SIZE.pack(40, 132))
    client.type("stty size\r")
    client.wait_text("40 132")
    client.type("sleep 300\r")
    deadline = time.monotonic() + 10
    while not any(p["cmd"] == "sleep 300" for p in rt.processes(cid)):  # the foreground job runs
        assert time.monotonic() < deadline
        time.sleep(0.02)
    client.type("\x03")  # Ctrl-C, through the pty's line discipline to the foreground job
    client.type("echo after $?\r")
    client.wait_text("after 130")
    client.type("exit 7\r")
    assert client.wait_exit() == 7
    gone(pid, started)


def test_an_exec_with_a_pipe_reads_stdin_to_its_end(rt: ContainerRuntime) -> None:
    cid = running(rt, "pipe-exec")
    _, sock = rt.exec_session(cid, ["sh", "-c", "wc -c; echo oops >&2; exit 3"], stdin=True)
    client = Client(sock)
    client.type("x" * 100000)
    client.send(kinds.STDIN_CLOSE)
    assert client.wait_exit() == 3
    assert client.out.strip() == b"100000" and client.err == b"oops\n"


def test_a_client_that_vanishes_hangs_its_exec_up(rt: ContainerRuntime) -> None:
    cid = running(rt, "hangup")
    pid, sock = rt.exec_session(cid, ["sh"], env=["PS1=p$ "], tty=True, stdin=True, size=(24, 80))
    started = process_start_time(pid)
    client = Client(sock)
    client.wait_text("p$ ")
    sock.close()  # the CLI was killed: no DETACH
    gone(pid, started)


def test_a_detached_exec_keeps_running(rt: ContainerRuntime) -> None:
    cid = running(rt, "detach")
    pid, sock = rt.exec_session(cid, ["sh", "-c", "while :; do echo tick; sleep 0.05; done"], tty=True, stdin=True)
    client = Client(sock)
    client.wait_text("tick")
    client.send(kinds.DETACH)
    sock.close()
    time.sleep(1.0)  # long enough to fill nothing: the shim keeps reading its output
    assert os.path.exists(f"/proc/{pid}")
    os.kill(pid, 9)


def test_run_interactively_attached_before_start(rt: ContainerRuntime) -> None:
    info = rt.create(RunConfig(name="it", image=BUSYBOX, command=["sh"], environment={"PS1": "box# "},
                               tty=True, stdin_open=True, console_size=(30, 100)))
    meta, sock = rt.attach(info.id, stdin=True)
    assert meta == {"ok": True, "tty": True, "stdin_open": True}
    rt.start(info.id)
    client = Client(sock)
    client.wait_text("box# ")  # the prompt of a shell that started after the client came
    client.type("stty size; exit 5\r")
    assert client.wait_exit() == 5
    assert b"30 100" in client.out
    assert rt.inspect(info.id).exit_code == 5
    assert b"30 100" in rt.log_path(info.id).read_bytes()  # a terminal's output is logged too


def test_attach_to_a_running_container_with_stdin(rt: ContainerRuntime) -> None:
    info = rt.create(RunConfig(name="cat", image=BUSYBOX, stdin_open=True,
                               command=["sh", "-c", "while read line; do echo got $line; done"]))
    rt.start(info.id)
    meta, sock = rt.attach(info.id, stdin=True)
    assert meta["tty"] is False
    client = Client(sock)
    client.type("hello\n")
    client.wait_text("got hello")
    client.send(kinds.STDIN_CLOSE)
    assert client.wait_exit() == 0


def test_sessions_leave_no_descriptor_in_the_shim(rt: ContainerRuntime) -> None:
    """Every pty master, pipe and session socket is closed once its process is gone, however the
    client left: exit, end of input, hang-up, detach, an attached client of an exited container."""
    cid = running(rt, "fds")
    shim = rt.shim.shim_pid()

    def open_fds() -> set[str]:
        return {os.readlink(f"/proc/{shim}/fd/{fd}") for fd in os.listdir(f"/proc/{shim}/fd")}

    baseline = len(os.listdir(f"/proc/{shim}/fd"))
    for _ in range(3):
        _, sock = rt.exec_session(cid, ["sh"], env=["PS1=p$ "], tty=True, stdin=True, size=(24, 80))
        Client(sock).wait_text("p$ ")
        sock.close()  # hang-up
        _, sock = rt.exec_session(cid, ["cat"], stdin=True)
        client = Client(sock)
        client.send(kinds.STDIN_CLOSE)
        assert client.wait_exit() == 0
        _, sock = rt.exec_session(cid, ["sh", "-c", "sleep 0.2"], tty=True, stdin=True)
        Client(sock).send(kinds.DETACH)
        sock.close()  # detached: closed when it exits
    info = rt.create(RunConfig(name="short", image=BUSYBOX, command=["sh", "-c", "read x; exit 2"], tty=True,
                               stdin_open=True))
    _, sock = rt.attach(info.id, stdin=True)
    rt.start(info.id)
    client = Client(sock)
    client.type("go\r")
    assert client.wait_exit() == 2
    rt.remove(info.id, force=True)  # its exit is reported just before its pid is reaped
    deadline = time.monotonic() + 10
    while len(os.listdir(f"/proc/{shim}/fd")) > baseline:
        assert time.monotonic() < deadline, f"the shim holds more than before: {sorted(open_fds())}"
        time.sleep(0.05)
