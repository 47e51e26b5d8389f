"""pyorch-shim: one small process per host that forks, watches and reaps every container.

Why one process and not one per container (conmon's way): a single Python process costs about as
much as a couple of conmons, and per container it costs only a table entry and two pipes. It is
started detached from the engine, so containers, their log pipes and their exit statuses survive an
engine crash (live restore). It is a child subreaper, so container inits re-parent to it and it can
record their exit status in ``<bundle>/exit.json``.

It stays single-threaded (fork safety, and unshare/setns need it) and imports only the standard
library and `runtime.container`, so forking a container costs a small heap's page tables.

Split by job, as conmon is: this module serves the socket protocol (shim_protocol.py) and keeps
the table of containers; shim_loop.py is the event loop, shim_warm.py the warm process and its
spare cgroups, shim_exec.py `exec`, shim_logs.py the output pipes and log files, shim_reaper.py
reaping and exit records; sync.py holds the messages to the processes being set up.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from runtime.container import shim_adopt, shim_exec, spare_cgroup, sync
from runtime.container import shim_protocol as proto
from runtime.container.shim_logs import LogFile
from runtime.container.shim_loop import Loop, Task, Timeout, Wait, say
from runtime.container.shim_protocol import Op
from runtime.container.shim_reaper import Reaper, death_of, exit_record, reserve_exit_record, write_exit_record
from runtime.container.shim_stdio import Stdio
from runtime.container.shim_warm import SETUP_TIMEOUT_S, Warm, WarmPool, kill_quietly
from runtime.container.spec import ContainerSpec
from runtime.fdwait import readable


class SetupFailed(RuntimeError):
    """A container's setup failed; ``refused``: because of its configuration (sync.Kind.REFUSED)."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass
class Tracked:
    spec: ContainerSpec
    pid: int
    channel: sync.Channel | None  # open until the container has exec'd
    stdio: Stdio
    status: str = "created"
    exit: dict[str, Any] | None = None
    created_at: float = field(default_factory=time.monotonic)
    pidfd: int = -1  # an adopted container (not our child): watched through its pidfd
    start_time: int = 0


UNWRITTEN_RETRY_S = 1.0
R = TypeVar("R")
Steps = Generator[Wait, None, R]  # a request's work as a task of the loop, ending with its result


@dataclass(frozen=True)
class Deferred:
    """A reply that a task of the loop computes (creates and starts wait on other processes)."""
    steps: Steps[dict[str, Any]]


@dataclass
class Client:
    conn: socket.socket
    lines: proto.LineBuffer = field(default_factory=proto.LineBuffer)


class Shim:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.loop = Loop()
        self.containers: dict[str, Tracked] = {}
        self.by_pid: dict[int, str] = {}
        self.clients: dict[int, Client] = {}
        self.subscribers: dict[int, socket.socket] = {}
        self.setting_up: dict[str, float] = {}  # creates under way (tasks of the loop): id → when it began
        self.exec_sessions: dict[int, Stdio] = {}  # exec'd pid → its stdio, while a client may attach
        # PYORCH_WARM=0 turns the warm process off (to measure, or to rule it out).
        self.warm = WarmPool(os.path.join(os.path.dirname(socket_path), "spare-cgroups.json"),
                             keep_warm=os.environ.get("PYORCH_WARM", "1") != "0")
        self.unwritten: dict[str, Tracked] = {}  # exits kept in memory only (a full disk, no room reserved)
        self.attaching = 0  # creates whose client is placing PID 1 in its cgroups right now
        self.reaper = Reaper(self._exited, held=lambda: self.attaching > 0)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)

    # --- setup -------------------------------------------------------------------------------
    def serve(self) -> None:
        from runtime.linux.syscalls import set_child_subreaper, set_process_name

        if another_shim_answers(self.socket_path):
            # Two starters raced (each found nobody listening): the one serving keeps the socket.
            # Unlinking it here would leave that shim and its warm process running, unreachable.
            os._exit(0)
        set_child_subreaper()
        set_process_name("pyorch-shim")
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.loop.on_signals(self.reaper.reap, signal.SIGCHLD)
        self.loop.on_signals(self._on_term, signal.SIGTERM)
        spare_cgroup.sweep(self.warm.spare_record)  # what a shim killed before us left
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        old = os.umask(0o077)
        self.listener.bind(self.socket_path)
        os.umask(old)
        self.listener.listen(64)
        self.loop.add(self.listener.fileno(), lambda _events: self._accept())
        self.reaper.reap()
        self.loop.run(self._idle_wait, self._idle)

    def _idle_wait(self) -> float:
        warm = self._warm_wait()
        if self.unwritten:  # exit records the disk had no room for: tried again every second
            return UNWRITTEN_RETRY_S if warm < 0 else min(warm, UNWRITTEN_RETRY_S)
        return warm

    def _warm_wait(self) -> float:
        pending = [t.created_at for t in self.containers.values() if t.status == "created"]
        return self.warm.wait_time(pending + list(self.setting_up.values()))

    def _idle(self) -> None:
        for t in list(self.unwritten.values()):
            self._write_exit(t)
        if self._warm_wait() == 0:
            self.warm.refill()

    def _kill_setup(self, pid: int) -> None:
        """Kill a process being set up, unless it has been reaped already (its pid may be reused)."""
        if pid not in self.reaper.unclaimed:
            kill_quietly(pid)

    def _death_of(self, pid: int) -> str:
        """How a process being set up died: the loop's reaper may have reaped it meanwhile."""
        reaped = self.reaper.unclaimed.pop(pid, None)
        if reaped is not None:
            return f"exited with status {reaped['exit_code']}"
        return death_of(pid)

    def _on_term(self, *_: object) -> None:
        # The shim leaves containers running; only the socket and the warm process go away.
        try:
            os.unlink(self.socket_path)
            self.warm.shutdown()
        finally:
            os._exit(0)

    # --- clients -----------------------------------------------------------------------------
    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        conn.setblocking(True)
        fd = conn.fileno()
        self.clients[fd] = Client(conn)
        self.loop.add(fd, lambda _events: self._read_client(fd))

    def _drop_client(self, fd: int) -> None:
        self.loop.remove(fd)
        client = self.clients.pop(fd, None)
        conn = client.conn if client is not None else self.subscribers.pop(fd, None)
        if conn is not None:
            conn.close()

    def _read_client(self, fd: int) -> None:
        client = self.clients[fd]
        try:
            data = client.conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop_client(fd)
            return
        client.lines.feed(data)
        while client.lines.has_line():
            try:
                request = client.lines.next()
                reply = self._handle(fd, request or {})
            except SetupFailed as exc:
                reply = proto.error(str(exc), exc.refused)
            except Exception as exc:
                reply = proto.error(f"{type(exc).__name__}: {exc}")
            if reply is None:
                return
            if isinstance(reply, Deferred):  # answered when its task ends; this connection waits till then
                self.loop.spawn(self._answer_when_done(fd, client, reply.steps))
                return
            if not self._send(fd, client, reply):
                return

    def _send(self, fd: int, client: Client, reply: dict[str, Any]) -> bool:
        if self.clients.get(fd) is not client:
            return False  # it went away meanwhile (and its descriptor may be another client's now)
        try:
            client.conn.sendall(proto.encode(reply))
            return True
        except OSError:
            self._drop_client(fd)
            return False

    def _answer_when_done(self, fd: int, client: Client, steps: Steps[dict[str, Any]]) -> Task:
        """Run a request's task in the loop, then send its reply (or its error) to the client."""
        try:
            reply = yield from steps
        except SetupFailed as exc:
            reply = proto.error(str(exc), exc.refused)
        except Exception as exc:
            reply = proto.error(f"{type(exc).__name__}: {exc}")
        self._send(fd, client, reply)

    def _handle(self, fd: int, request: dict[str, Any]) -> dict[str, Any] | Deferred | None:
        """The reply to one request; None when the handler answered (or turned the connection) itself;
        `Deferred` for a create or start, whose task the loop runs beside other requests."""
        op = request.get("op")
        if op == Op.PING:
            return {"ok": True, "pid": os.getpid(), "version": proto.VERSION}
        if op == Op.RESERVE:
            return {"ok": True, "id": self.warm.reserve()}
        if op == Op.CREATE:
            self.warm.configure_spares(request.get("spare_cgroups"))
            conn = self.clients[fd].conn if request.get("early") else None
            by_client = request.get("client_attaches") and conn is not None
            return Deferred(self._create(ContainerSpec.from_dict(request["spec"]), conn,
                                         (lambda: self._await_client_attach(fd)) if by_client else None))
        if op == Op.START:
            return Deferred(self._start(request["id"]))
        if op == Op.ADOPT:
            return self._adopt(request)
        if op == Op.EXEC:
            return self._exec_session(fd, request) if request.get("session") else self._exec(fd, request)
        if op == Op.ATTACH:
            return self._attach_client(fd, request)
        if op == Op.EXEC_STATUS:
            known, info = self.reaper.exec_status(int(request["pid"]))
            return {"ok": True, "exit": info} if known else proto.error(f"no exec process {request['pid']}")
        if op == Op.LIST:
            return {"ok": True, "containers": [self._describe(t) for t in self.containers.values()],
                    "spare": self.warm.spare_id()}
        if op == Op.FORGET:
            self._forget(request["id"])
            return {"ok": True}
        if op == Op.SUBSCRIBE:
            conn = self.clients.pop(fd).conn
            self.subscribers[fd] = conn
            self.loop.remove(fd)
            self.loop.add(fd, lambda _events: self._drop_client(fd))  # a subscriber only ever hangs up
            conn.sendall(proto.encode({"ok": True}))
            return None
        return proto.error(f"unknown op {op!r}")

    def _exec(self, fd: int, request: dict[str, Any]) -> dict[str, Any] | None:
        """Run a process inside a running container; its stdout/stderr pipes go back over SCM_RIGHTS."""
        t = self.containers.get(request["id"])
        if t is None or t.status != "running":
            return proto.error(f"container {request['id']} is not running")
        try:
            started = shim_exec.spawn(t.spec, t.pid, request)
        except shim_exec.ExecFailed as exc:
            self.reaper.reap()
            return proto.error(str(exc))
        pid, out_r, err_r = started.pid, started.out_r, started.err_r
        self.reaper.reap()
        self.reaper.expect_exec(pid)
        self.reaper.reap()
        try:
            socket.send_fds(self.clients[fd].conn, [proto.encode({"ok": True, "pid": pid})], [out_r, err_r])
        finally:
            os.close(out_r)
            os.close(err_r)
        return None

    def _exec_session(self, fd: int, request: dict[str, Any]) -> dict[str, Any] | None:
        """Run a process inside a running container with its stdio in the shim (a pty when asked):
        the client's end of its session goes back over SCM_RIGHTS (session.py)."""
        t = self.containers.get(request["id"])
        if t is None or t.status != "running":
            return proto.error(f"container {request['id']} is not running")
        options = request["session"]
        tty, stdin = bool(options.get("tty")), bool(options.get("stdin"))
        stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC) if stdin and not tty else (None, None)
        try:
            started = shim_exec.spawn(t.spec, t.pid, request, stdin_r)
        except shim_exec.ExecFailed as exc:
            if stdin_w is not None:
                os.close(stdin_w)
            self.reaper.reap()
            return proto.error(str(exc))
        finally:
            if stdin_r is not None:
                os.close(stdin_r)
        stdio = Stdio(self.loop, None, started.pid, hang_up_when_left=True)
        if started.terminal >= 0:
            os.close(started.out_r)
            os.close(started.err_r)
            stdio.set_terminal(started.terminal, accepts_input=stdin)
        else:
            stdio.add_source(started.out_r, "stdout")
            stdio.add_source(started.err_r, "stderr")
            if stdin_w is not None:
                stdio.set_stdin(stdin_w)
        client_fd = stdio.attach(stdin)
        self.exec_sessions[started.pid] = stdio
        self.reaper.reap()
        early = self.reaper.unclaimed.pop(started.pid, None)  # it exited before it was known
        if early is not None:
            self._exec_exited(started.pid, int(early["exit_code"]))
        self._send_fd(fd, {"ok": True, "pid": started.pid}, client_fd)
        return None

    def _attach_client(self, fd: int, request: dict[str, Any]) -> dict[str, Any] | None:
        """A client for a container's stdio (`attach`, `run`): its end goes back over SCM_RIGHTS."""
        t = self.containers.get(request["id"])
        if t is None or t.status == "exited" or t.stdio.finished:
            return proto.error(f"container {request['id']} is not running")
        client_fd = t.stdio.attach(bool(request.get("stdin")))
        self._send_fd(fd, {"ok": True, "tty": t.spec.tty, "stdin_open": t.spec.stdin_open}, client_fd)
        return None

    def _send_fd(self, fd: int, reply: dict[str, Any], passed: int) -> None:
        try:
            socket.send_fds(self.clients[fd].conn, [proto.encode(reply)], [passed])
        finally:
            os.close(passed)

    def _describe(self, t: Tracked) -> dict[str, Any]:
        return {"id": t.spec.id, "pid": t.pid, "status": t.status, "exit": t.exit}

    def _broadcast(self, event: dict[str, Any]) -> None:
        payload = proto.encode(event)
        for fd, conn in list(self.subscribers.items()):
            try:
                conn.sendall(payload)
            except OSError:
                self._drop_client(fd)

    # --- container lifecycle -------------------------------------------------------------------
    def _create(self, spec: ContainerSpec, early: socket.socket | None = None,
                client_attach: Callable[[], Steps[None]] | None = None) -> Steps[dict[str, Any]]:
        """Hand the spec to the warm PID 1 and wait for its setup report (a task of the loop: other
        creates go on while this one waits for its client or its stage 2).

        With ``early`` the PID goes to the client first; with ``client_attach`` the client puts it
        in its cgroups (made meanwhile, beside stage 2's mounts) and says so before stage 2 may
        go past its mounts; otherwise the shim writes ``spec.cgroup_procs_files`` itself.
        """
        if spec.id in self.containers or spec.id in self.setting_up:
            return proto.error(f"container {spec.id} already exists")
        self.setting_up[spec.id] = time.monotonic()
        try:
            return (yield from self._set_up(spec, early, client_attach))
        finally:
            del self.setting_up[spec.id]

    def _set_up(self, spec: ContainerSpec, early: socket.socket | None,
                client_attach: Callable[[], Steps[None]] | None) -> Steps[dict[str, Any]]:
        reserve_exit_record(spec.bundle_dir)  # (a disk full already: its exit is kept in memory if need be)
        log = LogFile(spec.log_path, spec.log)
        stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC) if spec.stdin_open and not spec.tty else (None, None)
        try:
            warm = yield from self.warm.take(spec, stdin_r)
        except BaseException:
            log.close()
            if stdin_w is not None:
                os.close(stdin_w)
            raise
        finally:
            if stdin_r is not None:
                os.close(stdin_r)
        in_cgroup = warm.spare_id == spec.id  # already in the container's cgroups (a reserved id)
        if in_cgroup:
            self.warm.disown_spare(warm)
        try:
            if early is not None:
                # The namespaces exist: the client attaches networks while stage 2 builds the root.
                # Inside the try: a client gone by now must not leave this process behind.
                early.sendall(proto.encode({"ok": True, "pid": warm.pid, "early": True, "in_cgroup": in_cgroup}))
            yield from self._attach(warm, spec, in_cgroup, client_attach)
            report = yield from sync.collect_steps(warm.channel, sync.Kind.READY, SETUP_TIMEOUT_S)
            if report.error is not None or not report.ready:
                self._kill_setup(warm.pid)
                if report.terminal >= 0:
                    os.close(report.terminal)
                raise SetupFailed(report.error or "container setup ended without a report: " + self._death_of(warm.pid),
                                  report.refused)
        except BaseException as exc:
            if not isinstance(exc, SetupFailed):  # (that one was killed, and maybe reaped, above)
                self._kill_setup(warm.pid)
            warm.close_fds()
            log.close()
            if stdin_w is not None:
                os.close(stdin_w)
            if warm.spare_dirs:  # a spare it may not have left: removed once the process is gone
                self._death_of(warm.pid)
                self.warm.drop_spare(warm)
            self.reaper.reap()
            raise
        stdio = self._stdio(spec.id, log, warm.pid)
        if report.terminal >= 0:  # its stdio is the pty's slave: the pipes are at their end already
            os.close(warm.out_r)
            os.close(warm.err_r)
            stdio.set_terminal(report.terminal, accepts_input=spec.stdin_open)
        else:
            stdio.add_source(warm.out_r, "stdout")
            stdio.add_source(warm.err_r, "stderr")
            if stdin_w is not None:
                stdio.set_stdin(stdin_w)
        self.containers[spec.id] = Tracked(spec=spec, pid=warm.pid, channel=warm.channel, stdio=stdio)
        self.by_pid[warm.pid] = spec.id
        self.reaper.reap()
        return {"ok": True, "pid": warm.pid}

    def _attach(self, warm: Warm, spec: ContainerSpec, in_cgroup: bool,
                client_attach: Callable[[], Steps[None]] | None) -> Steps[None]:
        """Put PID 1 in the container's cgroups (the client does, or the shim), then tell stage 2."""
        try:
            if client_attach is not None:
                yield from client_attach()
            elif not in_cgroup:
                _attach_cgroups(spec.cgroup_procs_files, warm.pid)
            self.warm.drop_spare(warm)  # if it had one, it has moved out of it
            sync.send_attached(warm.channel)
        except (BrokenPipeError, ConnectionResetError):
            pass  # PID 1 died in its setup: its report on the channel, read next, says why
        except BaseException:
            self._kill_setup(warm.pid)
            raise

    def _await_client_attach(self, fd: int) -> Steps[None]:
        """Wait (in the loop) until the client reports PID 1 placed in its cgroups, or gives up."""
        client = self.clients[fd]
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        self.attaching += 1  # the client names PID 1 by its pid: it is not reaped meanwhile
        try:
            while not client.lines.has_line():
                try:
                    yield fd, deadline
                except Timeout:
                    raise RuntimeError("the client did not attach the container's cgroups in time") from None
                except ConnectionError:
                    raise RuntimeError("the client went away during the create") from None
                try:
                    data = client.conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    raise RuntimeError("the client went away during the create")
                client.lines.feed(data)
        finally:
            self.attaching -= 1
            self.reaper.reap()  # what exited meanwhile
        message = client.lines.next() or {}
        if message.get("op") != Op.ATTACHED:
            raise RuntimeError(str(message.get("error") or "the client gave the create up"))

    def _start(self, cid: str) -> Steps[dict[str, Any]]:
        """Let a created container exec its command; a task of the loop, which waits for the exec."""
        t = self.containers.get(cid)
        if t is None:
            return proto.error(f"no such container {cid}")
        if t.status == "running" and t.channel is None:
            # Started before, by a client that died before it could record it: the same answer.
            return {"ok": True, "pid": t.pid, "already": True}
        if t.status != "created" or t.channel is None:
            return proto.error(f"container {cid} is {t.status}")
        channel, t.channel = t.channel, None
        try:
            try:
                sync.send_start(channel)
            except OSError as exc:
                return proto.error(f"container {cid} died before start: {exc.strerror}")
            report = yield from sync.collect_steps(channel, None, SETUP_TIMEOUT_S)
        finally:
            channel.close()
        if report.error is not None:
            return proto.error(report.error, report.refused)
        t.status = "running" if t.exit is None else "exited"
        return {"ok": True, "pid": t.pid}

    def _adopt(self, request: dict[str, Any]) -> dict[str, Any]:
        """Watch a container that a shim before this one forked (shim_adopt.py), or, when its
        process is gone, record that its exit went unseen (its status is unknown; the time is now,
        when it was noticed). Idempotent: a container already watched stays as it is."""
        spec = ContainerSpec.from_dict(request["spec"])
        if spec.id in self.containers:
            known = self.containers[spec.id]
            if spec.id in self.unwritten:  # its exit record is still owed: try again now
                self._write_exit(known)
            elif known.exit is None:
                # Asked because its process was seen ended (a zombie counts as ended) with no exit
                # record: one that ended before the loop heard of it is recorded before the answer.
                if known.pidfd >= 0:
                    if readable([known.pidfd], 0):
                        self._adopted_exited(spec.id)
                else:
                    self.reaper.reap()
            return {"ok": True, "adopted": False, "known": True, "exit": known.exit}
        pid, start_time = int(request["pid"]), int(request["pid_start_time"])
        pidfd = shim_adopt.open_pidfd(pid, start_time)
        if pidfd is None:
            info = exit_record(pid, -1, 0, unknown=True)
            write_exit_record(spec.bundle_dir, info)
            return {"ok": True, "adopted": False, "exit": info}
        reserve_exit_record(spec.bundle_dir)
        stdio = self._stdio(spec.id, LogFile(spec.log_path, spec.log), pid)
        for fd, stream in shim_adopt.reopen_output(pid):
            stdio.add_source(fd, stream)
        t = Tracked(spec=spec, pid=pid, channel=None, stdio=stdio,
                    status="running" if request.get("started") else "created", pidfd=pidfd, start_time=start_time)
        self.containers[spec.id] = t
        self.by_pid[pid] = spec.id
        self.loop.add(pidfd, lambda _events: self._adopted_exited(spec.id))  # level-triggered: also if gone by now
        if readable([pidfd], 0):  # (select() would refuse a pidfd numbered past 1024: fdwait.py)
            # Ended already (a zombie, or reaped): its exit is recorded before the answer, so the
            # caller (a `stop` that found no record) finds it at once instead of waiting for it.
            self._adopted_exited(spec.id)
        return {"ok": True, "adopted": True}

    def _adopted_exited(self, cid: str) -> None:
        t = self.containers.get(cid)
        if t is None or t.pidfd < 0:
            return
        status = shim_adopt.exit_status(t.pid, t.pidfd, t.start_time)
        self.loop.remove(t.pidfd)
        os.close(t.pidfd)
        t.pidfd = -1
        if status is None:
            self._record_exit(t, -1, 0, unknown=True)
        else:
            self._record_exit(t, *shim_adopt.decode(status))

    def _forget(self, cid: str) -> None:
        self.warm.give_up(cid)  # reserved, then given up
        t = self.containers.pop(cid, None)
        if t is None:
            return
        if t.pidfd >= 0:
            self.loop.remove(t.pidfd)
            os.close(t.pidfd)
        self.by_pid.pop(t.pid, None)
        self.unwritten.pop(cid, None)
        t.stdio.close()
        if t.channel is not None:
            t.channel.close()
        if t.status != "exited":
            kill_quietly(t.pid)

    # --- exits ---------------------------------------------------------------------------------
    def _exited(self, pid: int, exit_code: int, sig: int) -> bool:
        """A child's exit, if it is one the shim keeps: a container's, or an exec's with a client."""
        if pid in self.exec_sessions:
            self._exec_exited(pid, exit_code)
            return True
        cid = self.by_pid.get(pid)
        if cid is None:
            return False
        self._record_exit(self.containers[cid], exit_code, sig)
        return True

    def _record_exit(self, t: Tracked, exit_code: int, sig: int, unknown: bool = False) -> None:
        t.stdio.drain()  # the last output comes before the exit is announced
        t.exit = exit_record(t.pid, exit_code, sig, unknown)
        self._write_exit(t)
        t.status = "exited"
        self._broadcast({"event": "exit", "id": t.spec.id, "pid": t.pid, **t.exit})
        t.stdio.finish({"exit_code": exit_code})

    def _write_exit(self, t: Tracked) -> None:
        """exit.json of ``t``; if even its reserved room is gone (a full disk), the exit is kept in
        memory (LIST and ADOPT answer it) and written once there is room (`_idle`)."""
        assert t.exit is not None
        try:
            write_exit_record(t.spec.bundle_dir, t.exit)
        except OSError as exc:
            if t.spec.id not in self.unwritten:
                say(f"cannot write the exit record of {t.spec.id[:12]} ({exc}); kept, tried again every second")
            self.unwritten[t.spec.id] = t
            return
        if self.unwritten.pop(t.spec.id, None) is not None:
            say(f"wrote the exit record of {t.spec.id[:12]} it had no room for")

    def _stdio(self, cid: str, log: LogFile, pid: int) -> Stdio:
        """A container's stdio, whose log tells the engine (an event) when output was dropped."""
        stdio = Stdio(self.loop, log, pid)
        stdio.on_log_drops = lambda lines, size, since: self._broadcast(
            {"event": "log-dropped", "id": cid, "lines": lines, "bytes": size, "since": since})
        return stdio

    def _exec_exited(self, pid: int, exit_code: int) -> None:
        stdio = self.exec_sessions.pop(pid)
        stdio.drain()
        stdio.finish({"exit_code": exit_code})



def _attach_cgroups(procs_files: list[str], pid: int) -> None:
    try:
        for path in procs_files:
            with open(path, "w") as procs:
                procs.write(str(pid))
    except OSError as exc:
        raise RuntimeError(f"cannot place the container in its cgroups: {exc}") from exc


def another_shim_answers(socket_path: str) -> bool:
    """Whether a shim already accepts connections on ``socket_path`` (a stale file refuses them)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    probe.settimeout(2.0)
    try:
        probe.connect(socket_path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def main(argv: list[str]) -> None:
    """``shim SOCKET``: daemonize, then serve until SIGTERM."""
    socket_path = argv[0]
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    Shim(socket_path).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
