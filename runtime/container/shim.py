"""pyorch-shim: one small process per host that forks, watches and reaps every container.

Why one process and not one per container (conmon's way): a single Python process costs about as
much as a couple of conmons, and per container it costs only a table entry and two pipes. It is
started detached from the engine, so containers, their log pipes and their exit statuses survive an
engine crash (live restore). It is a child subreaper, so container inits re-parent to it and it can
record their exit status in ``<bundle>/exit.json``.

It stays single-threaded (fork safety, and unshare/setns need it) and imports only the standard
library and `runtime.container`, so forking a container costs a small heap's page tables.

Protocol: newline-delimited JSON over a root-only unix stream socket.
``{"op": "create", "spec": {...}}`` → ``{"ok": true, "pid": N}``; ``{"op": "start", "id": ...}``;
``{"op": "list"}``; ``{"op": "forget", "id": ...}``; ``{"op": "subscribe"}`` turns the connection
into a stream of ``{"event": "exit", ...}``; ``{"op": "ping"}``. Errors: ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from runtime.container import child
from runtime.container.logfile import encode_records
from runtime.container.spec import ContainerSpec

SETUP_TIMEOUT_S = 30.0


@dataclass
class Tracked:
    spec: ContainerSpec
    pid: int
    sync_r: int
    start_w: int
    log_fd: int
    pipes: dict[int, str] = field(default_factory=dict)  # read fd → stream name
    status: str = "created"
    exit: dict[str, Any] | None = None


class Shim:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.containers: dict[str, Tracked] = {}
        self.by_pid: dict[int, str] = {}
        self.pipe_owner: dict[int, str] = {}
        self.clients: dict[int, tuple[socket.socket, bytearray]] = {}
        self.subscribers: dict[int, socket.socket] = {}
        self.execs: dict[int, dict[str, Any] | None] = {}  # exec pid → exit info once reaped
        self.unclaimed: dict[int, dict[str, Any]] = {}  # reaped before anyone asked (fast exec processes)
        self.poller = select.epoll()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)

    # --- setup -------------------------------------------------------------------------------
    def serve(self) -> None:
        from runtime.linux.syscalls import set_child_subreaper, set_process_name

        set_child_subreaper()
        set_process_name("pyorch-shim")
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.set_wakeup_fd(self.wake_w)
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        old = os.umask(0o077)
        self.listener.bind(self.socket_path)
        os.umask(old)
        self.listener.listen(64)
        self.poller.register(self.listener.fileno(), select.EPOLLIN)
        self.poller.register(self.wake_r, select.EPOLLIN)
        self._reap()
        while True:
            for fd, _events in self.poller.poll():
                if fd == self.listener.fileno():
                    self._accept()
                elif fd == self.wake_r:
                    self._drain_wakeups()
                    self._reap()
                elif fd in self.pipe_owner:
                    self._pump_log(fd)
                elif fd in self.clients:
                    self._read_client(fd)
                elif fd in self.subscribers:
                    self._drop_client(fd)

    def _on_term(self, *_: object) -> None:
        # The shim leaves containers running; only the socket goes away.
        try:
            os.unlink(self.socket_path)
        finally:
            os._exit(0)

    # --- clients -----------------------------------------------------------------------------
    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        conn.setblocking(True)
        self.clients[conn.fileno()] = (conn, bytearray())
        self.poller.register(conn.fileno(), select.EPOLLIN)

    def _drop_client(self, fd: int) -> None:
        self.poller.unregister(fd)
        conn = self.clients.pop(fd, (None, None))[0] or self.subscribers.pop(fd, None)
        if conn is not None:
            conn.close()

    def _read_client(self, fd: int) -> None:
        conn, buf = self.clients[fd]
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop_client(fd)
            return
        buf += data
        while b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            try:
                request = json.loads(line)
                reply = self._handle(fd, request)
            except Exception as exc:
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            if reply is None:
                return
            try:
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                self._drop_client(fd)
                return

    def _handle(self, fd: int, request: dict[str, Any]) -> dict[str, Any] | None:
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}
        if op == "create":
            return self._create(ContainerSpec.from_dict(request["spec"]))
        if op == "start":
            return self._start(request["id"])
        if op == "exec":
            return self._exec(fd, request)
        if op == "exec_status":
            pid = int(request["pid"])
            if pid not in self.execs:
                return {"ok": False, "error": f"no exec process {pid}"}
            info = self.execs[pid]
            if info is not None:
                del self.execs[pid]
            return {"ok": True, "exit": info}
        if op == "list":
            return {"ok": True, "containers": [self._describe(t) for t in self.containers.values()]}
        if op == "forget":
            self._forget(request["id"])
            return {"ok": True}
        if op == "subscribe":
            conn, _ = self.clients.pop(fd)
            self.subscribers[fd] = conn
            conn.sendall(b'{"ok": true}\n')
            return None
        return {"ok": False, "error": f"unknown op {op!r}"}

    def _exec(self, fd: int, request: dict[str, Any]) -> dict[str, Any] | None:
        """Run a process inside a running container; its stdout/stderr pipes go back over SCM_RIGHTS."""
        t = self.containers.get(request["id"])
        if t is None or t.status != "running":
            return {"ok": False, "error": f"container {request['id']} is not running"}
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            child.run_exec(t.spec, t.pid, request, sync_w, out_w, err_w)
        for fd_ in (sync_w, out_w, err_w):
            os.close(fd_)
        try:
            messages = self._read_sync(sync_r, until=None)
        finally:
            os.close(sync_r)
        self._reap()
        exec_pid = next((int(m[1:]) for m in messages if m.startswith(b"P")), 0)
        error = next((m[1:].decode(errors="replace") for m in messages if m.startswith(b"E")), None)
        if error is not None or not exec_pid:
            os.close(out_r)
            os.close(err_r)
            return {"ok": False, "error": error or "exec failed without a report"}
        # The exec'd process may have exited (and been reaped above) before we knew its pid.
        self.execs.setdefault(exec_pid, self.unclaimed.pop(exec_pid, None))
        self._reap()
        conn = self.clients[fd][0]
        try:
            socket.send_fds(conn, [json.dumps({"ok": True, "pid": exec_pid}).encode() + b"\n"], [out_r, err_r])
        finally:
            os.close(out_r)
            os.close(err_r)
        return None

    def _describe(self, t: Tracked) -> dict[str, Any]:
        return {"id": t.spec.id, "pid": t.pid, "status": t.status, "exit": t.exit}

    def _broadcast(self, event: dict[str, Any]) -> None:
        payload = json.dumps(event).encode() + b"\n"
        for fd, conn in list(self.subscribers.items()):
            try:
                conn.sendall(payload)
            except OSError:
                self._drop_client(fd)

    # --- container lifecycle -------------------------------------------------------------------
    def _create(self, spec: ContainerSpec) -> dict[str, Any]:
        if spec.id in self.containers:
            return {"ok": False, "error": f"container {spec.id} already exists"}
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        start_r, start_w = os.pipe2(os.O_CLOEXEC)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        log_fd = os.open(spec.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        pid = os.fork()
        if pid == 0:
            child.run_stage1(spec, sync_w, start_r, out_w, err_w)
        for fd in (sync_w, start_r, out_w, err_w):
            os.close(fd)
        tracked = Tracked(spec=spec, pid=0, sync_r=sync_r, start_w=start_w, log_fd=log_fd)
        try:
            messages = self._read_sync(sync_r, until=b"R")
            init_pid = next((int(m[1:]) for m in messages if m.startswith(b"P")), 0)
            error = next((m[1:].decode(errors="replace") for m in messages if m.startswith(b"E")), None)
            if error is not None or not init_pid or not any(m == b"R" for m in messages):
                if init_pid and error is None:
                    error = "container setup ended without a report: " + _death_of(init_pid)
                if init_pid:
                    _kill_quietly(init_pid)
                raise RuntimeError(error or "container setup ended without a report")
        except BaseException:
            for fd in (sync_r, start_w, out_r, err_r, log_fd):
                os.close(fd)
            self._reap()
            raise
        tracked.pid = init_pid
        for fd, stream in ((out_r, "stdout"), (err_r, "stderr")):
            os.set_blocking(fd, False)
            tracked.pipes[fd] = stream
            self.pipe_owner[fd] = spec.id
            self.poller.register(fd, select.EPOLLIN)
        self.containers[spec.id] = tracked
        self.by_pid[init_pid] = spec.id
        self._reap()
        return {"ok": True, "pid": init_pid}

    def _start(self, cid: str) -> dict[str, Any]:
        t = self.containers.get(cid)
        if t is None:
            return {"ok": False, "error": f"no such container {cid}"}
        if t.status != "created":
            return {"ok": False, "error": f"container {cid} is {t.status}"}
        try:
            os.write(t.start_w, b"S")
        except OSError as exc:
            return {"ok": False, "error": f"container {cid} died before start: {exc.strerror}"}
        os.close(t.start_w)
        t.start_w = -1
        messages = self._read_sync(t.sync_r, until=None)
        os.close(t.sync_r)
        t.sync_r = -1
        error = next((m[1:].decode(errors="replace") for m in messages if m.startswith(b"E")), None)
        if error is not None:
            return {"ok": False, "error": error}
        t.status = "running" if t.exit is None else "exited"
        return {"ok": True, "pid": t.pid}

    def _read_sync(self, fd: int, until: bytes | None) -> list[bytes]:
        """Read sync messages until ``until`` arrives, an error arrives, or EOF."""
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        buf = b""
        messages: list[bytes] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("container setup did not finish in time")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            data = os.read(fd, 4096)
            if not data:
                return messages
            buf += data
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                messages.append(line)
                if line.startswith(b"E") or (until is not None and line == until):
                    return messages

    def _forget(self, cid: str) -> None:
        t = self.containers.pop(cid, None)
        if t is None:
            return
        self.by_pid.pop(t.pid, None)
        for fd in list(t.pipes):
            self._close_pipe(t, fd)
        for fd in (t.sync_r, t.start_w, t.log_fd):
            if fd >= 0:
                os.close(fd)
        if t.status != "exited":
            _kill_quietly(t.pid)

    # --- logs and exits ------------------------------------------------------------------------
    def _pump_log(self, fd: int) -> None:
        cid = self.pipe_owner[fd]
        t = self.containers[cid]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_pipe(t, fd)
            return
        os.write(t.log_fd, encode_records(t.pipes[fd], data))

    def _close_pipe(self, t: Tracked, fd: int) -> None:
        self.poller.unregister(fd)
        self.pipe_owner.pop(fd, None)
        t.pipes.pop(fd, None)
        os.close(fd)

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            cid = self.by_pid.get(pid)
            if cid is not None:
                self._record_exit(self.containers[cid], status)
            else:
                code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
                if pid in self.execs:
                    self.execs[pid] = {"exit_code": code}
                else:  # an exec process whose pid the shim has not read yet, or an orphan
                    self.unclaimed[pid] = {"exit_code": code}
                    while len(self.unclaimed) > 256:
                        self.unclaimed.pop(next(iter(self.unclaimed)))

    def _record_exit(self, t: Tracked, status: int) -> None:
        for fd in list(t.pipes):  # the last output comes before the exit is announced
            self._drain_pipe(t, fd)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            info: dict[str, Any] = {"exit_code": 128 + sig, "signal": sig}
        else:
            info = {"exit_code": os.WEXITSTATUS(status), "signal": 0}
        info["finished_at"] = time.time()
        t.exit = info
        t.status = "exited"
        path = os.path.join(t.spec.bundle_dir, "exit.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, path)
        self._broadcast({"event": "exit", "id": t.spec.id, "pid": t.pid, **info})

    def _drain_pipe(self, t: Tracked, fd: int) -> None:
        """Copy what is left in a pipe; a pipe still held open by a stray process stays registered."""
        while fd in t.pipes:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                return
            self._pump_log(fd)


def _death_of(pid: int) -> str:
    """How a child died (it is ours to reap: we are its subreaper)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "its process is gone"
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.WEXITSTATUS(status)}"


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise


def main(argv: list[str]) -> None:
    """``shim SOCKET``: daemonize, then serve until SIGTERM."""
    socket_path = argv[0]
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    Shim(socket_path).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
