"""The CLI's connection to the engine: HTTP over the unix socket, starting the engine on demand.

HTTP/1.1 is spoken by hand (a request line, a few headers, a body of Content-Length bytes or, for
streams, lines until the engine closes): `http.client` drags `email` and `ssl` into every CLI
start (~25 ms), for a protocol this small between two programs of the same house.

When the engine goes away in the middle of a request (killed, crashed), the CLI says so in words
(`EngineGone`), never as a protocol error. A request whose repetition leaves the same state as
one (reads, and the declarative verbs: `up`, `down`, `stop`, `start`, `scale`, `rm`, …) is sent
again once, to a new engine started for it: the engine finishes what the dead one left half
done from the state it observes (docs/engine.md, "Crash consistency"), so the repeat converges.
Anything else (`kill`, `exec`, `run`, a rollback) is not repeated: the user is told that it may
or may not have taken effect.

A session that follows an engine for a while (attached `up`, `up --wait`, `wait`, `stats`) calls
`follow` once it has reached one: from then on it starts none, and ends with an error when that
engine is gone, rather than starting one for an instance nobody may use any more (an attached `up`
a failed test left behind started engines, shims and warm processes for a torn-down instance).
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.errors import EngineError, EngineGone, EngineUnavailable
from orchestrator.spec.errors import ComposeError

T = TypeVar("T")
# connect() errors that mean "no engine listens here": start one (when allowed) and try again.
_NOT_LISTENING = (errno.ENOENT, errno.ECONNREFUSED)
# POSTs whose repetition leaves the state one leaves (declarative verbs, removals): retried once
# when the engine dies during them. GETs always are.
_REPEATABLE_POST = re.compile(
    r"^/v1/(projects/(up|build)|projects/[^/?]+/(down|stop|start|restart|pause|unpause|scale|rm)"
    r"|images/(remove|prune)|volumes/(remove|prune))$")


def repeatable(method: str, path: str) -> bool:
    """Whether sending the request again after the engine died during it is safe."""
    return method == "GET" or (method == "POST" and bool(_REPEATABLE_POST.match(path)))


class _Response:
    """Status, headers and the rest of the connection's bytes as a buffered file."""

    def __init__(self, sock: socket.socket, what: str) -> None:
        self.sock = sock
        self.what = what
        self.file = sock.makefile("rb")
        try:
            status_line = self.file.readline()
        except ConnectionResetError:
            status_line = b""
        if not status_line:
            raise EngineGone(what)
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise EngineUnavailable(f"the engine answered something that is not HTTP: {status_line[:80]!r}")
        self.status = int(parts[1])
        self.headers: dict[str, str] = {}
        while True:
            line = self.file.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            self.headers[key.strip().lower()] = value.strip()

    def body(self) -> bytes:
        length = self.headers.get("content-length")
        try:
            data = self.file.read(int(length)) if length is not None else self.file.read()
        except ConnectionResetError:
            raise EngineGone(self.what) from None
        if length is not None and len(data) < int(length):
            raise EngineGone(self.what)  # it died while it answered
        return data

    def lines(self) -> Iterator[bytes]:
        while True:
            line = self.file.readline()
            if not line:
                return
            yield line

    def abort(self) -> None:
        """End the connection from another thread: a read blocked on it returns at once."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the other end


class Subscription:
    """A stream of JSON lines that the thread reading it, or any other, may end with `close()`."""

    def __init__(self, response: _Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            for line in self._response.lines():
                yield json.loads(line)
        finally:
            self._response.file.close()

    def close(self) -> None:
        self._response.abort()


class EngineClient:
    def __init__(self, run_root: Path) -> None:
        self.run_root = run_root
        self.socket_path = str(run_root / "engine.sock")
        self.starts_engine = True  # False once a session follows the engine it reached (`follow`)

    def follow(self) -> None:
        """Never start an engine from now on: requests go to the one running, or fail."""
        self.starts_engine = False

    def alive(self) -> bool:
        try:
            self.request("GET", "/v1/ping", timeout=2.0, autostart=False)
            return True
        except (OSError, EngineUnavailable):
            return False

    def ensure_engine(self, timeout: float = 20.0) -> None:
        if self.alive():
            return
        import subprocess  # only to start the engine: not on every command's path

        self.run_root.mkdir(parents=True, exist_ok=True)
        log = open(self.run_root / "engine.log", "ab")
        subprocess.Popen(
            [sys.executable, "-m", "orchestrator.engine.daemon"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
            env=os.environ.copy(),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.alive():
                return
            time.sleep(0.05)
        raise EngineUnavailable(
            f"the pyorch engine did not start; see {self.run_root / 'engine.log'}"
        )

    def _connect(self, timeout: float | None, autostart: bool) -> socket.socket:
        """A connection to the engine; when none listens, start it (no ping before every request)."""
        for attempt in (1, 2):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.settimeout(timeout)
            try:
                sock.connect(self.socket_path)
                return sock
            except OSError as exc:
                sock.close()
                if not (autostart and self.starts_engine) or attempt == 2 or exc.errno not in _NOT_LISTENING:
                    raise EngineUnavailable(f"cannot reach the pyorch engine at {self.socket_path}: {exc}") from exc
            self.ensure_engine()
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, body: Any, timeout: float | None, autostart: bool) -> _Response:
        sock = self._connect(timeout, autostart)
        what = f"{method} {path.split('?', 1)[0]}"
        try:
            payload = b"" if body is None else json.dumps(body).encode()
            head = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close",
                    f"Content-Length: {len(payload)}"]
            if payload:
                head.append("Content-Type: application/json")
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
            return _Response(sock, what)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise EngineGone(what) from exc
        except OSError as exc:
            raise EngineUnavailable(f"cannot reach the pyorch engine at {self.socket_path}: {exc}") from exc
        finally:
            sock.close()  # the response's file keeps the connection open until it is read

    def request(self, method: str, path: str, body: Any = None, timeout: float | None = 600.0,
                autostart: bool = True) -> Any:
        """One request and its JSON answer; sent again once to a new engine when the engine died
        during it and the request is `repeatable` (otherwise `EngineGone` says what may be left)."""
        return self._once_more_if_gone(method, path, autostart,
                                       lambda: self._request_once(method, path, body, timeout, autostart))

    def _once_more_if_gone(self, method: str, path: str, autostart: bool, attempt: Callable[[], T]) -> T:
        """``attempt()``; when the engine dies during it and the request is `repeatable`, a new
        engine is started and it is made once more; otherwise `EngineGone` says what may be left."""
        try:
            return attempt()
        except EngineGone as gone:
            if not (autostart and self.starts_engine) or not repeatable(method, path):
                raise EngineGone(gone.what, self._log_hint(may_have_acted=method != "GET")) from None
            sys.stderr.write(f"pyorch: the engine stopped during {gone.what}; starting a new one and sending "
                             "it again\n")
            self.ensure_engine()
            try:
                return attempt()
            except EngineGone as again:
                raise EngineGone(again.what, self._log_hint(may_have_acted=method != "GET")) from None

    def _request_once(self, method: str, path: str, body: Any, timeout: float | None, autostart: bool) -> Any:
        response = self._send(method, path, body, timeout, autostart)
        try:
            data = json.loads(response.body() or b"null")
        finally:
            response.file.close()
        if response.status >= 400:
            _raise_refusal(data, response.status)
        return data

    def _log_hint(self, may_have_acted: bool) -> str:
        hint = f"see {self.run_root / 'engine.log'}"
        if may_have_acted:
            hint += ("; the request may or may not have taken effect: `pyorch ps` shows the state now "
                     "(the next engine finishes what was left half done)")
        return hint

    def handover(self, path: str, body: Any) -> tuple[dict[str, Any], socket.socket]:
        """POST for a reply that carries a descriptor (a terminal session, engine/session_api.py):
        the JSON reply and the socket handed over, read with recvmsg so the descriptor is not lost."""
        payload = json.dumps(body).encode()
        sock = self._connect(600.0, True)
        with sock:
            head = [f"POST {path} HTTP/1.1", "Host: localhost", "Connection: close",
                    f"Content-Length: {len(payload)}", "Content-Type: application/json"]
            try:
                sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
                data, fds = _read_reply_with_fds(sock)
            except OSError as exc:
                raise EngineUnavailable(f"cannot reach the pyorch engine at {self.socket_path}: {exc}") from exc
        status, body_bytes = _split_reply(data)
        reply = json.loads(body_bytes or b"null")
        if status >= 400 or not fds:
            for fd in fds:
                os.close(fd)
            _raise_refusal(reply, status, "the engine handed no session over")
        for extra in fds[1:]:
            os.close(extra)
        return reply, socket.socket(fileno=fds[0])

    def stream_post(self, path: str, body: Any) -> Iterator[dict[str, Any]]:
        return self.stream(path, method="POST", body=body)

    def stream(self, path: str, method: str = "GET", body: Any = None) -> Iterator[dict[str, Any]]:
        yield from self.subscribe(path, method, body)

    def subscribe(self, path: str, method: str = "GET", body: Any = None, autostart: bool = True) -> Subscription:
        """Open a stream now (a refusal raises here); iterate it for its objects. ``autostart``:
        an engine that is not running is started first (the dashboard says it is gone instead).
        An engine that dies before it answers is handled as `request` does; one that dies later
        ends the stream."""
        response = self._once_more_if_gone(method, path, autostart,
                                           lambda: self._send(method, path, body, None, autostart))
        if response.status >= 400:
            try:
                _raise_refusal(json.loads(response.body() or b"{}"), response.status, "stream refused")
            finally:
                response.file.close()
        return Subscription(response)


def _read_reply_with_fds(sock: socket.socket) -> tuple[bytes, list[int]]:
    """A whole HTTP reply (headers and Content-Length bytes, or to the end) and any descriptors."""
    data, fds = b"", []
    while True:
        chunk, received, _, _ = socket.recv_fds(sock, 65536, 4, socket.MSG_CMSG_CLOEXEC)
        fds += received
        if not chunk:
            return data, fds
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            for line in head.split(b"\r\n")[1:]:
                key, _, value = line.partition(b":")
                if key.strip().lower() == b"content-length" and len(body) >= int(value):
                    return data, fds


def _split_reply(data: bytes) -> tuple[int, bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise EngineUnavailable(f"the engine answered something that is not HTTP: {head[:80]!r}")
    return int(parts[1]), body


def _raise_refusal(data: Any, status: int, fallback: str = "") -> None:
    """The engine's error, as the CLI renders it: Compose input errors keep their own type (exit 15)."""
    data = data if isinstance(data, dict) else {}
    message = str(data.get("error") or fallback or f"engine answered {status}")
    if data.get("compose"):
        raise ComposeError(message)
    raise EngineError(message)
