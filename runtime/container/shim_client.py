"""The engine's handle on pyorch-shim: start it when absent, talk JSON lines to it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from runtime.container import shim_protocol as proto
from runtime.container.shim_protocol import Op
from runtime.errors import RuntimeFailure
from runtime.fdwait import readable

_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from runtime.container.shim import main; main(sys.argv[2:])"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class ShimError(RuntimeFailure):
    """The shim refused a request or could not be reached; ``refused``: because of the container's
    configuration (a retry would fail the same way)."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class _Connection:
    """One socket to the shim and the bytes read past its last reply."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lines = proto.LineBuffer()

    def send(self, payload: dict[str, Any]) -> None:
        self.sock.sendall(proto.encode(payload))

    def alive(self) -> bool:
        """An idle connection has nothing to read: readable means the shim closed it (it died)."""
        return not readable([self.sock], 0)  # (poll reports a hang-up or an error whatever is asked)

    def read_reply(self) -> dict[str, Any]:
        while not self.lines.has_line():
            data = self.sock.recv(65536)
            if not data:
                raise ShimError("pyorch-shim closed the connection")
            self.lines.feed(data)
        return self.lines.next() or {}


class ShimClient:
    """Connections are pooled: a request borrows one for its whole exchange, so a create whose
    ``on_pid`` is plumbing a network does not hold up the starts, stops and removes of other
    threads (the shim serves its connections in turn).

    ``on_start`` runs after this client has started a shim (none answered): the runtime adopts
    the containers of the shim that died (shim_adopt.py)."""

    def __init__(self, run_root: Path, on_start: Callable[[], object] | None = None) -> None:
        self.run_root = run_root
        self.socket_path = run_root / "shim.sock"
        self.on_start = on_start
        self._lock = threading.Lock()  # guards the pool and starting the shim
        self._idle: list[_Connection] = []
        self._generation = 0  # close() drops connections lent out before it

    # --- connection ------------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            conn.connect(str(self.socket_path))
        except OSError:
            conn.close()
            raise
        return conn

    def ensure_running(self, timeout: float = 10.0) -> bool:
        """Connect to the shim, starting it first if nobody answers; True when it was started here
        (``on_start`` has run then). Pooled connections that the shim closed (it died) are dropped
        first, so a dead shim is noticed here rather than by the next request's broken pipe."""
        started = self._connect_or_start(timeout)
        if started and self.on_start is not None:
            self.on_start()
        return started

    def _connect_or_start(self, timeout: float) -> bool:
        with self._lock:
            if self._idle and not self._idle[-1].alive():
                # The shim closed the one `_borrowed` takes next: it died, and every other pooled
                # connection with it (one poll per request, not one per pooled connection).
                for conn in self._idle:
                    conn.sock.close()
                self._idle = []
            if self._idle:
                return False
            try:
                conn = _Connection(self._connect())
            except OSError:
                pass
            else:
                try:
                    self._check_version(conn)
                except BaseException:
                    conn.sock.close()
                    raise
                self._idle.append(conn)
                return False
            self.run_root.mkdir(parents=True, exist_ok=True)
            with open(self.run_root / "shim.log", "ab") as log:
                # -I -S: no site-packages, no environment: a small heap to fork containers from.
                subprocess.run(
                    [sys.executable, "-I", "-S", "-c", _BOOT, _PACKAGE_ROOT, str(self.socket_path)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=True, close_fds=True,
                )
            deadline = time.monotonic() + timeout
            while True:
                try:
                    self._idle.append(_Connection(self._connect()))
                    return True
                except OSError as exc:
                    if time.monotonic() > deadline:
                        raise ShimError(f"pyorch-shim did not come up at {self.socket_path}: {exc}") from exc
                    time.sleep(0.01)

    def _check_version(self, conn: _Connection) -> None:
        """A shim this client did not start may be an older pyorch's (it outlives upgrades): its
        version is asked first, and one that differs is refused with what to do, rather than fed
        messages it would misread."""
        try:
            conn.send({"op": Op.PING.value})
            reply = conn.read_reply()
        except OSError as exc:
            raise ShimError(f"cannot reach pyorch-shim at {self.socket_path}: {exc}") from exc
        version = reply.get("version")
        if version != proto.VERSION:
            pid = reply.get("pid", "?")
            raise ShimError(
                f"pyorch-shim (pid {pid}, at {self.socket_path}) speaks protocol version "
                f"{version if version is not None else 'from before versions'}, this pyorch speaks "
                f"{proto.VERSION}: it was started by another version of pyorch. Its containers keep "
                f"running; stop that shim (kill {pid}) and a new one adopts them at the next command "
                f"(an attached terminal session is cut), or go back to the version that started it")

    def close(self) -> None:
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.sock.close()

    @contextlib.contextmanager
    def _borrowed(self) -> Iterator[_Connection]:
        """A connection of its own for one exchange; one that failed mid-way is closed, not reused."""
        self.ensure_running()
        with self._lock:
            generation = self._generation
            conn = self._idle.pop() if self._idle else None
            if conn is not None and not conn.alive():  # closed since ensure_running looked
                conn.sock.close()
                conn = None
        if conn is None:
            try:
                conn = _Connection(self._connect())
            except OSError as exc:
                raise ShimError(f"cannot reach pyorch-shim at {self.socket_path}: {exc}") from exc
        try:
            yield conn
        except (OSError, ShimError):
            conn.sock.close()
            self.close()  # the shim went away: the other idle connections are dead too
            raise
        except BaseException:
            conn.sock.close()
            raise
        with self._lock:
            if generation == self._generation and not conn.lines.buf:
                self._idle.append(conn)
                return
        conn.sock.close()

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self._borrowed() as conn:
            conn.send(payload)
            reply = conn.read_reply()
        return _checked(reply)

    def create(self, spec: dict[str, Any], on_pid: Callable[[int], object] | None = None,
               meanwhile: Callable[[], object] | None = None,
               attach: Callable[[int], object] | None = None,
               spare_cgroups: dict[str, Any] | None = None) -> int:
        """Fork a container; returns its pid once its setup is done (or raises its failure).

        ``meanwhile`` runs while the shim hands the spec to the container's PID 1 (the caller makes
        the cgroups there); ``attach(pid)`` then puts PID 1 in them, and only after it may the
        container go past its mounts; ``on_pid(pid)`` runs next, while the shim finishes the setup
        (networks are plumbed there). A failure of any of them is the one raised, after the shim
        has been told and has cleaned up, so the connection stays in step. ``attach`` is skipped
        when PID 1 already is in the container's cgroups (an id from `reserve`);
        ``spare_cgroups`` lets the shim make such cgroups ahead of time (see spare_cgroup.py).
        """
        failure: BaseException | None = None
        with self._borrowed() as conn:
            conn.send({"op": Op.CREATE, "spec": spec, "early": True, "client_attaches": attach is not None,
                       "spare_cgroups": spare_cgroups})
            if meanwhile is not None:
                try:
                    meanwhile()
                except BaseException as exc:
                    failure = exc
            reply = conn.read_reply()
            if reply.get("early"):
                pid = int(reply["pid"])
                if attach is not None:
                    if failure is None and not reply.get("in_cgroup"):
                        try:
                            attach(pid)
                        except BaseException as exc:
                            failure = exc
                    conn.send({"op": Op.ATTACHED} if failure is None
                              else {"op": Op.ABORT, "error": str(failure)})
                hook_failed = False
                if failure is None and on_pid is not None:
                    try:
                        on_pid(pid)
                    except BaseException as exc:
                        failure, hook_failed = exc, True
                reply = conn.read_reply()
                if hook_failed and not reply.get("ok"):
                    # The container's own setup failed, which is what broke the hook (a netns gone
                    # with its dead PID 1): report the cause, not the symptom.
                    raise ShimError(str(reply.get("error", "unknown shim error")),
                                    bool(reply.get("refused"))) from failure
        if failure is not None:
            raise failure
        return int(_checked(reply)["pid"])

    def adopt(self, spec: dict[str, Any], pid: int, pid_start_time: int, started: bool) -> dict[str, Any]:
        """Have the shim watch a container it did not fork (see shim_protocol.py, ``adopt``)."""
        return self.request({"op": Op.ADOPT, "spec": spec, "pid": pid, "pid_start_time": pid_start_time,
                             "started": started})

    def start(self, cid: str) -> None:
        """Let a created container exec its command (raises its exec failure)."""
        self.request({"op": Op.START, "id": cid})

    def forget(self, cid: str) -> None:
        """Kill and drop a container the shim holds (nothing happens if it holds none)."""
        self.request({"op": Op.FORGET, "id": cid})

    def reserve(self) -> str | None:
        """The id whose cgroups already hold the shim's next PID 1, for this client's next create
        (None: none is ready). An unused reservation lapses, or goes with `forget` of that id."""
        cid = self.request({"op": Op.RESERVE})["id"]
        return None if cid is None else str(cid)

    def exec(self, payload: dict[str, Any]) -> tuple[int, int, int]:
        """Start a process in a container: returns its pid and the read ends of its stdout and stderr."""
        with self._borrowed() as conn:
            conn.send({"op": Op.EXEC, **payload})
            data, fds, _, _ = socket.recv_fds(conn.sock, 65536, 2)
            if not data:
                raise ShimError("pyorch-shim closed the connection")
        reply: dict[str, Any] = json.loads(data.split(b"\n", 1)[0])
        if not reply.get("ok"):
            for fd in fds:
                os.close(fd)
            raise ShimError(str(reply.get("error", "exec failed")))
        return int(reply["pid"]), fds[0], fds[1]

    def exec_session(self, payload: dict[str, Any], tty: bool, stdin: bool,
                     size: tuple[int, int] | None) -> tuple[int, socket.socket]:
        """Start a process in a container with its stdio kept in the shim (a pty with ``tty``):
        returns its pid and the client's end of its session (session.py)."""
        session = {"tty": tty, "stdin": stdin, "size": list(size) if size else None}
        reply, sock = self._with_session({"op": Op.EXEC, **payload, "session": session})
        return int(reply["pid"]), sock

    def attach(self, cid: str, stdin: bool) -> tuple[dict[str, Any], socket.socket]:
        """A session on a created or running container's stdio: (``{"tty", "stdin_open"}``, socket)."""
        return self._with_session({"op": Op.ATTACH, "id": cid, "stdin": stdin})

    def _with_session(self, request: dict[str, Any]) -> tuple[dict[str, Any], socket.socket]:
        with self._borrowed() as conn:
            conn.send(request)
            data, fds, _, _ = socket.recv_fds(conn.sock, 65536, 1, socket.MSG_CMSG_CLOEXEC)
            if not data:
                raise ShimError("pyorch-shim closed the connection")
        reply: dict[str, Any] = json.loads(data.split(b"\n", 1)[0])
        if not reply.get("ok") or not fds:
            for fd in fds:
                os.close(fd)
            raise ShimError(str(reply.get("error", "no session was handed over")))
        return reply, socket.socket(fileno=fds[0])

    def exec_status(self, pid: int) -> dict[str, Any] | None:
        info: dict[str, Any] | None = self.request({"op": Op.EXEC_STATUS, "pid": pid})["exit"]
        return info

    def events(self) -> Iterator[dict[str, Any]]:
        """A separate connection that yields exit events until the shim goes away; first
        ``{"subscribed": true}`` once the shim has taken the subscription (every exit from then on
        comes as an event, so a reader that lists containers after it misses none)."""
        self.ensure_running()
        conn = self._connect()
        try:
            conn.sendall(proto.request(Op.SUBSCRIBE))
            lines = proto.LineBuffer()
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                lines.feed(data)
                while (message := lines.next()) is not None:
                    if "event" in message:
                        yield message
                    elif message.get("ok"):
                        yield {"subscribed": True}
        finally:
            conn.close()

    def known(self) -> set[str]:
        """The ids of the containers the shim keeps (forked or adopted)."""
        return {str(c["id"]) for c in self.request({"op": Op.LIST})["containers"]}

    def shim_pid(self) -> int:
        return int(self.request({"op": Op.PING})["pid"])


def _checked(reply: dict[str, Any]) -> dict[str, Any]:
    if not reply.get("ok"):
        raise ShimError(str(reply.get("error", "unknown shim error")), bool(reply.get("refused")))
    return reply


def stop_shim(run_root: Path, timeout: float = 5.0) -> None:
    """Terminate a running shim (containers are left alone); used by tests and `pyorch engine stop`."""
    client = ShimClient(run_root)
    if not client.socket_path.exists():
        return
    try:
        conn = client._connect()
    except OSError:
        client.socket_path.unlink(missing_ok=True)
        return
    with conn:
        conn.sendall(proto.request(Op.PING))
        pid = json.loads(conn.recv(4096).split(b"\n")[0])["pid"]
    os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.01)
