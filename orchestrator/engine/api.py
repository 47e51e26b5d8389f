"""The engine's HTTP/JSON API on a root-only unix socket.

The standard library's threading HTTP server is enough here: few clients, all local, and streams
(logs, events) are plain chunks of JSON lines on a connection that stays open.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

from orchestrator.engine.api_schema import (
    MAX_BODY_BYTES,
    NEW_WORK,
    RequestRefused,
    check_body,
    check_query,
    route_for,
)
from orchestrator.errors import DiskFull, PyorchError
from orchestrator.spec import ComposeError
from runtime.diskspace import full_message, has_room, is_no_space
from runtime.errors import RuntimeFailure

log = logging.getLogger("pyorch.api")


# A client silent this long mid-request (or idle between requests) is dropped; a body must have
# arrived within twice that, however it trickles. PYORCH_API_TIMEOUT (seconds) changes it.
REQUEST_TIMEOUT_S = float(os.environ.get("PYORCH_API_TIMEOUT") or 30.0)


class Routes(Protocol):
    """A group of routes (project_api.ProjectRoutes, images_api.ImageRoutes, ...), each built by
    daemon.py with only the parts of the engine it needs."""

    def handle(self, handler: Any, method: str, parts: list[str], query: dict[str, list[str]]) -> bool: ...


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a burst of clients (144 of 200 concurrent connects in
    # issue 20) got EAGAIN before the accept loop could take them.
    request_queue_size = socket.SOMAXCONN
    routes: Sequence[Routes]
    shutdown_requested: threading.Event
    state_root: Path | None  # where new work writes: refused while its filesystem is full


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_S  # every read and write on the connection (http.server applies it)
    checked_body: dict[str, Any] = {}

    def handle(self) -> None:
        try:
            super().handle()
        except (OSError, ValueError):
            pass  # the client went away or stalled (Ctrl-C on `logs -f`, a timeout): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    # --- plumbing ------------------------------------------------------------------------------------
    def stopping(self) -> bool:
        """The engine is shutting down: streams end."""
        return self.server.shutdown_requested.is_set()

    def body(self) -> dict[str, Any]:
        """The request's body, checked against its route's model before the route ran (api_schema.py)."""
        return self.checked_body

    def _read_body(self) -> bytes:
        """The body's bytes: Content-Length only, capped, and within a deadline however slowly they come."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise RequestRefused(411, "send the body with a Content-Length (no chunked transfer)")
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not raw.isdigit():
            self.close_connection = True
            raise RequestRefused(400, f"invalid request: Content-Length must be a number of bytes, not {raw!r}")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestRefused(413, f"the body is {length} bytes; the engine takes at most {MAX_BODY_BYTES}")
        chunks: list[bytes] = []
        deadline = time.monotonic() + 2 * REQUEST_TIMEOUT_S
        while length > 0:
            if time.monotonic() > deadline:
                self.close_connection = True
                raise RequestRefused(408, "the body took too long to arrive")
            chunk = self.rfile.read1(min(length, 65536))
            if not chunk:
                self.close_connection = True
                raise RequestRefused(400, "invalid request: the body ended before its Content-Length")
            chunks.append(chunk)
            length -= len(chunk)
        return b"".join(chunks)

    def reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What http.server answers itself (a request line it cannot parse, a method HTTP does not
        define: 501, a line too long), in the API's JSON form as every other error."""
        self.close_connection = True
        self.reply(code, {"error": message or HTTPStatus(code).phrase, "kind": "RequestRefused"})

    def stream_start(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        try:
            # Everything the request carries is checked first: nothing has happened when it is refused.
            route = route_for(method, parts)
            body = self._read_body()
            query = check_query(route, parse_qs(url.query, keep_blank_values=True))
            self.checked_body = check_body(route, body) if method == "POST" else {}
        except RequestRefused as exc:
            self.reply(exc.status, {"error": str(exc), "kind": "RequestRefused"}, exc.headers)
            return
        except OSError:
            self.close_connection = True  # the client stalled or left while sending
            return
        state_root = self.server.state_root
        try:
            if state_root is not None and route.path in NEW_WORK and not has_room(state_root):
                raise DiskFull(full_message(state_root))
            self._route(method, parts, query)
        except DiskFull as exc:
            self.reply(507, {"error": str(exc), "kind": "DiskFull"})
        except Exception as exc:
            if state_root is None or not is_no_space(exc):
                self._failed(method, exc)
                return
            log.warning("API %s %s: %s", method, self.path, exc)
            self._reply_if_possible(507, {"error": full_message(state_root), "kind": "DiskFull"})

    def _failed(self, method: str, exc: Exception) -> None:
        """The reply to a route that raised (anything but a full disk)."""
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            return  # the client went away
        if isinstance(exc, (PyorchError, RuntimeFailure)):
            self.reply(400, {"error": str(exc), "kind": type(exc).__name__,
                             "compose": isinstance(exc, ComposeError)})
            return
        log.error("API %s %s", method, self.path, exc_info=exc)
        self.reply(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})

    def _reply_if_possible(self, status: int, payload: Any) -> None:
        """A reply, unless the route had begun a stream (its headers are sent: it just ends)."""
        try:
            self.reply(status, payload)
        except OSError:
            pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # Other methods of HTTP reach the router too, which answers 405 with Allow (or 404).
    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    # --- routes ---------------------------------------------------------------------------------------
    def _route(self, method: str, parts: list[str], query: dict[str, list[str]]) -> None:
        match method, parts:
            case "GET", ["v1", "ping"]:
                self.reply(200, {"ok": True, "pid": os.getpid()})
            case "POST", ["v1", "engine", "shutdown"]:
                self.reply(200, {"ok": True})
                self.server.shutdown_requested.set()
            case _:
                if not any(routes.handle(self, method, parts, query) for routes in self.server.routes):
                    self.reply(404, {"error": f"no route {method} /{'/'.join(parts)}"})


def serve(routes: Sequence[Routes], socket_path: Path, state_root: Path | None = None) -> None:
    """Serve ``routes`` (tried in turn) until a shutdown request; the socket is created owner-only
    (root). ``state_root``: requests for new work are refused while its filesystem is full."""
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    old = os.umask(0o077)
    try:
        server = _Server(str(socket_path), _Handler)
    finally:
        os.umask(old)
    server.routes = routes
    server.state_root = state_root
    server.shutdown_requested = threading.Event()
    thread = threading.Thread(target=server.serve_forever, name="pyorch-api", daemon=True)
    thread.start()
    try:
        server.shutdown_requested.wait()
    finally:
        server.shutdown()
        server.server_close()
        socket_path.unlink(missing_ok=True)
