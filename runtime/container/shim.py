"""pyorch-shim: one small process per host that forks, watches and reaps every container.

Why one process and not one per container (conmon's way): a single Python process costs about as
much as a couple of conmons, and per container it costs only a table entry and two pipes. It is
started detached from the engine, so containers, their log pipes and their exit statuses survive an
engine crash (live restore). It is a child subreaper, so container inits re-parent to it and it can
record their exit status in ``<bundle>/exit.json``.

It stays single-threaded (fork safety, and unshare/setns need it) and imports only the standard
library and `runtime.container`, so forking a container costs a small heap's page tables.

Protocol: newline-delimited JSON over a root-only unix stream socket.
``{"op": "create", "spec": {...}}`` → ``{"ok": true, "pid": N}``; with ``"early": true`` a first
``{"ok": true, "pid": N, "early": true}`` comes as soon as the container's PID 1 (and so its
namespaces) exists, before the final reply: the engine plumbs the network while the root
filesystem is built. With ``"client_attaches": true`` as well, the client makes the cgroups
meanwhile and, once PID 1 is in them, sends ``{"op": "attached"}`` (or ``{"op": "abort",
"error": ...}``); stage 2 waits for that before it leaves the host's cgroup namespace.
``"spare_cgroups": {"parents": [...], "cpuset_parent": ...}`` in a create tells the shim where
container cgroups live; it then moves each warm process, while idle, into cgroups named by a fresh
id (spare_cgroup.py). ``{"op": "reserve"}`` → ``{"ok": true, "id": ... or null}`` hands that id
to a client for its next create, whose early reply then says ``"in_cgroup": true``.
``{"op": "start", "id": ...}``; ``{"op": "list"}`` (containers, and the spare cgroups' id);
``{"op": "forget", "id": ...}`` (also gives a reserved spare up); ``{"op": "subscribe"}`` turns
the connection into a stream of ``{"event": "exit", ...}``; ``{"op": "ping"}``.
Errors: ``{"ok": false, "error": ...}``.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.container import child, spare_cgroup
from runtime.container.logfile import encode_records
from runtime.container.spec import ContainerSpec

SETUP_TIMEOUT_S = 30.0
WARM_AFTER_CREATE_S = 0.1  # a created container not started by then no longer holds the warm fork back


@dataclass
class Warm:
    """A stage 2 forked ahead of time into fresh namespaces, waiting for a spec (see child.py)."""
    pid: int
    sync_r: int
    start_w: int
    out_r: int
    err_r: int
    spec_w: int
    attached_w: int
    spare_id: str | None = None  # cgroups made for it ahead of time, named by the next container id
    spare_dirs: list[str] = field(default_factory=list)
    reserved_at: float | None = None  # a client took spare_id as its next container's id

    def reserved(self) -> bool:
        return self.reserved_at is not None and time.monotonic() - self.reserved_at < SETUP_TIMEOUT_S

    def fds(self) -> tuple[int, ...]:
        return (self.sync_r, self.start_w, self.out_r, self.err_r, self.spec_w, self.attached_w)


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
    created_at: float = field(default_factory=time.monotonic)


class Shim:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.spare_record = os.path.join(os.path.dirname(socket_path), "spare-cgroups.json")
        self.containers: dict[str, Tracked] = {}
        self.by_pid: dict[int, str] = {}
        self.pipe_owner: dict[int, str] = {}
        self.clients: dict[int, tuple[socket.socket, bytearray]] = {}
        self.subscribers: dict[int, socket.socket] = {}
        self.execs: dict[int, dict[str, Any] | None] = {}  # exec pid → exit info once reaped
        self.unclaimed: dict[int, dict[str, Any]] = {}  # reaped before anyone asked (fast exec processes)
        self.sync_rest: dict[int, bytes] = {}  # sync pipe → bytes read past the last message taken
        # PYORCH_WARM=0 turns the warm process off (to measure, or to rule it out).
        self.keep_warm = os.environ.get("PYORCH_WARM", "1") != "0"
        self.warm: Warm | None = None
        self.spare_config: spare_cgroup.SpareConfig | None = None  # from the runtime's creates
        self.spares_off = False  # set when the host refused a spare cgroup once
        self.warm_retry_at = 0.0  # after a failed fork, wait before trying again
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
        spare_cgroup.sweep(self.spare_record)  # what a shim killed before us left
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
            events = self.poller.poll(self._warm_wait())
            if not events:  # only a wait for the warm process ends without events
                self._refill()
                continue
            for fd, _events in events:
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
        # The shim leaves containers running; only the socket and the warm process go away.
        try:
            os.unlink(self.socket_path)
            self._let_go(self.warm)
            if self.spare_config is not None:  # what the spare kept busy, if nothing else does
                spare_cgroup.remove(list(self.spare_config.parents))
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
        if op == "reserve":
            return {"ok": True, "id": self._reserve()}
        if op == "create":
            if request.get("spare_cgroups") and not self.spares_off:
                self.spare_config = spare_cgroup.SpareConfig.from_dict(request["spare_cgroups"])
            conn = self.clients[fd][0] if request.get("early") else None
            by_client = request.get("client_attaches") and conn is not None
            return self._create(ContainerSpec.from_dict(request["spec"]), conn,
                                (lambda: self._await_client_attach(fd)) if by_client else None)
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
            return {"ok": True, "containers": [self._describe(t) for t in self.containers.values()],
                    "spare": self.warm.spare_id if self.warm is not None else None}
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
            self.sync_rest.pop(sync_r, None)
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
    def _create(self, spec: ContainerSpec, early: socket.socket | None = None,
                client_attach: Callable[[], None] | None = None) -> dict[str, Any]:
        """Hand the spec to the warm PID 1 and wait for its setup report.

        With ``early`` the PID goes to the client first; with ``client_attach`` the client puts it
        in its cgroups (made meanwhile, beside stage 2's mounts) and says so before stage 2 may
        go past its mounts; otherwise the shim writes ``spec.cgroup_procs_files`` itself.
        """
        if spec.id in self.containers:
            return {"ok": False, "error": f"container {spec.id} already exists"}
        log_fd = os.open(spec.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            warm = self._take_warm(spec)
        except BaseException:
            os.close(log_fd)
            raise
        os.close(warm.spec_w)
        in_cgroup = warm.spare_id == spec.id  # already in the container's cgroups (a reserved id)
        if in_cgroup:
            self._disown_spare(warm)
        if early is not None:
            # The namespaces exist: the client attaches networks while stage 2 builds the root.
            early.sendall(json.dumps({"ok": True, "pid": warm.pid, "early": True,
                                      "in_cgroup": in_cgroup}).encode() + b"\n")
        try:
            try:
                if client_attach is not None:
                    client_attach()
                elif not in_cgroup:
                    _attach_cgroups(spec.cgroup_procs_files, warm.pid)
                self._drop_spare(warm)  # if it had one, it has moved out of it
                os.write(warm.attached_w, b"A")
            except BrokenPipeError:
                pass  # PID 1 died in its setup: its report on the sync pipe, read next, says why
            except BaseException:
                _kill_quietly(warm.pid)
                raise
            finally:
                os.close(warm.attached_w)
            messages = self._read_sync(warm.sync_r, until=b"R")
            error = next((m[1:].decode(errors="replace") for m in messages if m.startswith(b"E")), None)
            if error is not None or not any(m == b"R" for m in messages):
                if error is None:
                    error = "container setup ended without a report: " + _death_of(warm.pid)
                _kill_quietly(warm.pid)
                raise RuntimeError(error)
        except BaseException:
            self.sync_rest.pop(warm.sync_r, None)
            for fd in (warm.sync_r, warm.start_w, warm.out_r, warm.err_r, log_fd):
                os.close(fd)
            if warm.spare_dirs:  # a spare it may not have left: removed once the process is gone
                _death_of(warm.pid)
                self._drop_spare(warm)
            self._reap()
            raise
        tracked = Tracked(spec=spec, pid=warm.pid, sync_r=warm.sync_r, start_w=warm.start_w, log_fd=log_fd)
        for fd, stream in ((warm.out_r, "stdout"), (warm.err_r, "stderr")):
            os.set_blocking(fd, False)
            tracked.pipes[fd] = stream
            self.pipe_owner[fd] = spec.id
            self.poller.register(fd, select.EPOLLIN)
        self.containers[spec.id] = tracked
        self.by_pid[warm.pid] = spec.id
        self._reap()
        return {"ok": True, "pid": warm.pid}

    def _take_warm(self, spec: ContainerSpec) -> Warm:
        """The warm process with ``spec`` handed over, or a process forked now if there is none
        (or the warm one died meanwhile)."""
        payload = spec.to_json().encode()
        warm: Warm | None = None
        if self.warm is not None and (self.warm.spare_id == spec.id or not self.warm.reserved()):
            warm, self.warm = self.warm, None  # a warm process reserved for another create stays
        for candidate in (warm, None):
            if candidate is None:
                candidate = self._fork_warm()
            try:
                os.write(candidate.spec_w, payload)  # the reader is waiting: a long spec cannot block for good
                return candidate
            except OSError as exc:
                if candidate.spare_id == spec.id:
                    self._disown_spare(candidate)
                self._let_go(candidate)
                error = exc
        raise RuntimeError(f"container process died before setup: {error}")

    def _fork_warm(self) -> Warm:
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        start_r, start_w = os.pipe2(os.O_CLOEXEC)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        spec_r, spec_w = os.pipe2(os.O_CLOEXEC)
        attached_r, attached_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            child.run_stage1(sync_w, start_r, out_w, err_w, spec_r, attached_r)
        for fd in (sync_w, start_r, out_w, err_w, spec_r, attached_r):
            os.close(fd)
        messages = self._read_sync(sync_r, until=b"P")
        init_pid = next((int(m[1:]) for m in messages if m.startswith(b"P")), 0)
        warm = Warm(init_pid, sync_r, start_w, out_r, err_r, spec_w, attached_w)
        if not init_pid:
            self._let_go(warm)
            error = next((m[1:].decode(errors="replace") for m in messages if m.startswith(b"E")), None)
            raise RuntimeError(error or "container process ended before setup")
        return warm

    def _warm_wait(self) -> float:
        """How long to wait for requests before forking the next warm process (-1: no need).

        Only when idle, so a burst of requests is served first; and not between a create and its
        start (the fork would delay the start), unless that start is long in coming.
        """
        if not self.keep_warm or self.warm is not None:
            return -1
        now = time.monotonic()
        pending = [t.created_at for t in self.containers.values() if t.status == "created"]
        not_before = max([self.warm_retry_at, *(c + WARM_AFTER_CREATE_S for c in pending)])
        return max(0.0, not_before - now)

    def _refill(self) -> None:
        try:
            self.warm = self._fork_warm()
        except Exception as exc:
            print(f"pyorch-shim: cannot keep a process warm: {exc}", file=sys.stderr, flush=True)
            self.warm_retry_at = time.monotonic() + 1.0
            return
        self._place_spare(self.warm)

    def _place_spare(self, warm: Warm) -> None:
        """Move the warm process into cgroups of its own, named by the id the next create may take."""
        if self.spare_config is None or self.spares_off:
            return
        made: list[str] = []
        try:
            warm.spare_id = spare_cgroup.place(self.spare_config, warm.pid, made)
            warm.spare_dirs = made
            spare_cgroup.note(self.spare_record, made)
        except OSError as exc:
            print(f"pyorch-shim: no spare cgroups from now on: {exc}", file=sys.stderr, flush=True)
            self.spares_off = True
            warm.spare_dirs = made
            self.warm = None
            self._let_go(warm)  # removes what was made, once the process is gone

    def _reserve(self) -> str | None:
        """The id whose cgroups already hold the warm process, for the caller's next create."""
        warm = self.warm
        if warm is None or warm.spare_id is None or warm.reserved():
            return None
        warm.reserved_at = time.monotonic()
        return warm.spare_id

    def _let_go(self, warm: Warm | None) -> None:
        """Stop a warm process that will not become a container, and reap it."""
        if warm is None:
            return
        self.sync_rest.pop(warm.sync_r, None)
        for fd in warm.fds():
            try:
                os.close(fd)
            except OSError:
                pass
        if warm.pid:
            _kill_quietly(warm.pid)
            try:
                os.waitpid(warm.pid, 0)
            except ChildProcessError:
                pass
        self._drop_spare(warm)

    def _drop_spare(self, warm: Warm) -> None:
        """Remove the spare cgroups of a warm process that has left them (or is gone)."""
        if warm.spare_dirs:
            spare_cgroup.remove(warm.spare_dirs)
            spare_cgroup.forget(self.spare_record)
            warm.spare_dirs = []

    def _disown_spare(self, warm: Warm) -> None:
        """The spare cgroups are a container's now (its id was reserved): the runtime's to remove."""
        spare_cgroup.forget(self.spare_record)
        warm.spare_dirs = []

    def _await_client_attach(self, fd: int) -> None:
        """Block until the client reports PID 1 placed in its cgroups, or gives up with an error."""
        conn, buf = self.clients[fd]
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([conn], [], [], left)[0]:
                raise RuntimeError("the client did not attach the container's cgroups in time")
            data = conn.recv(65536)
            if not data:
                raise RuntimeError("the client went away during the create")
            buf += data
        line, _, rest = bytes(buf).partition(b"\n")
        buf[:] = rest
        message = json.loads(line)
        if message.get("op") != "attached":
            raise RuntimeError(str(message.get("error") or "the client gave the create up"))

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
        self.sync_rest.pop(t.sync_r, None)
        os.close(t.sync_r)
        t.sync_r = -1
        error = next((m[1:].decode(errors="replace") for m in messages if m.startswith(b"E")), None)
        if error is not None:
            return {"ok": False, "error": error}
        t.status = "running" if t.exit is None else "exited"
        return {"ok": True, "pid": t.pid}

    def _read_sync(self, fd: int, until: bytes | None) -> list[bytes]:
        """Read sync messages (a type letter and a payload per line) until one of type ``until``
        arrives, an error arrives, or EOF. Whatever was read past it is kept for the next call."""
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        buf = self.sync_rest.pop(fd, b"")
        messages: list[bytes] = []
        while True:
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                messages.append(line)
                if line.startswith(b"E") or (until is not None and line[:1] == until):
                    if buf:
                        self.sync_rest[fd] = buf
                    return messages
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

    def _forget(self, cid: str) -> None:
        if self.warm is not None and self.warm.spare_id == cid:  # reserved, then given up
            warm, self.warm = self.warm, None
            self._let_go(warm)
        t = self.containers.pop(cid, None)
        if t is None:
            return
        self.by_pid.pop(t.pid, None)
        for fd in list(t.pipes):
            self._close_pipe(t, fd)
        self.sync_rest.pop(t.sync_r, None)
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
        """Reap every exited child; a container's exit is recorded *before* its PID is reaped.

        waitid(WNOWAIT) leaves the zombie in place while the last output is drained and exit.json
        is written, so an observer never sees the PID gone without an exit record.
        """
        while True:
            try:
                peek = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if peek is None or peek.si_pid == 0:
                return
            pid = peek.si_pid
            killed = peek.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
            code = 128 + peek.si_status if killed else peek.si_status
            cid = self.by_pid.get(pid)
            if cid is not None:
                self._record_exit(self.containers[cid], code, peek.si_status if killed else 0)
            elif pid in self.execs:
                self.execs[pid] = {"exit_code": code}
            else:  # an exec process whose pid the shim has not read yet, or an orphan
                self.unclaimed[pid] = {"exit_code": code}
                while len(self.unclaimed) > 256:
                    self.unclaimed.pop(next(iter(self.unclaimed)))
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass

    def _record_exit(self, t: Tracked, exit_code: int, signal: int) -> None:
        for fd in list(t.pipes):  # the last output comes before the exit is announced
            self._drain_pipe(t, fd)
        info: dict[str, Any] = {"exit_code": exit_code, "signal": signal, "finished_at": time.time()}
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


def _attach_cgroups(procs_files: list[str], pid: int) -> None:
    try:
        for path in procs_files:
            with open(path, "w") as procs:
                procs.write(str(pid))
    except OSError as exc:
        raise RuntimeError(f"cannot place the container in its cgroups: {exc}") from exc


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
