"""The engine's HTTP/JSON API on a root-only unix socket.

The standard library's threading HTTP server is enough here: few clients, all local, and streams
(logs, events) are plain chunks of JSON lines on a connection that stays open.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from orchestrator.engine import (
    build_api,
    compose_api,
    copy_api,
    events_api,
    images_api,
    log_archive,
    rollout_api,
    session_api,
    volumes_api,
)
from orchestrator.engine import network_api as network_routes
from orchestrator.engine.api_schema import MAX_BODY_BYTES, RequestRefused, check_body, check_query, route_for
from orchestrator.engine.compose_source import project_from_source
from orchestrator.engine.engine import Engine
from orchestrator.engine.logs import LogSource, stream_logs
from orchestrator.engine.peer import peer_closed
from orchestrator.engine.project_ops import UpOptions
from orchestrator.errors import PyorchError
from orchestrator.spec import ComposeError
from runtime.errors import RuntimeFailure
from runtime.image import ImageConfig
from runtime.image.bootstrap import DEFAULT_BASE_IMAGES, ensure_base_images
from runtime.linux.signals import signal_number

log = logging.getLogger("pyorch.api")


# A client silent this long mid-request (or idle between requests) is dropped; a body must have
# arrived within twice that, however it trickles. PYORCH_API_TIMEOUT (seconds) changes it.
REQUEST_TIMEOUT_S = float(os.environ.get("PYORCH_API_TIMEOUT") or 30.0)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a burst of clients (144 of 200 concurrent connects in
    # issue 20) got EAGAIN before the accept loop could take them.
    request_queue_size = socket.SOMAXCONN
    engine: Engine
    shutdown_requested: threading.Event


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
        try:
            self._route(method, parts, query)
        except (PyorchError, RuntimeFailure) as exc:
            self.reply(400, {"error": str(exc), "kind": type(exc).__name__,
                              "compose": isinstance(exc, ComposeError)})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:
            log.exception("API %s %s", method, self.path)
            self.reply(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})

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
        engine = self.server.engine
        match method, parts:
            case "GET", ["v1", "ping"]:
                self.reply(200, {"ok": True, "pid": os.getpid()})
            case "GET", ["v1", "info"]:
                self.reply(200, engine.runtime.features.refreshed().to_dict())
            case "GET", ["v1", "projects"]:
                self.reply(200, engine.queries.list_projects())
            case "POST", ["v1", "projects", "up"]:
                body = self.body()
                options = UpOptions(**body.get("options", {}))
                spec = project_from_source(body["source"]) if "source" in body else body["project"]
                self.reply(200, engine.ops.up(spec, options))
            case "POST", ["v1", "projects", name, "down"]:
                body = self.body()
                self.reply(200, engine.ops.down(name, body.get("timeout"), bool(body.get("volumes"))))
            case "POST", ["v1", "projects", name, "stop"]:
                body = self.body()
                self.reply(200, engine.ops.stop_services(name, list(body.get("services") or []), body.get("timeout"),
                                                         list(body.get("containers") or [])))
            case "POST", ["v1", "projects", name, "start"]:
                body = self.body()
                self.reply(200, engine.ops.start_services(name, list(body.get("services") or []),
                                                          list(body.get("containers") or [])))
            case "POST", ["v1", "projects", name, ("pause" | "unpause") as verb]:
                body = self.body()
                self.reply(200, engine.ops.pause_services(name, list(body.get("services") or []), verb == "pause"))
            case "POST", ["v1", "projects", name, "kill"]:
                body = self.body()
                self.reply(200, engine.ops.kill_services(name, list(body.get("services") or []),
                                                         signal_number(str(body.get("signal", signal.SIGKILL))),
                                                         list(body.get("containers") or [])))
            case "GET", ["v1", "projects", name, "stats"]:
                self.reply(200, engine.queries.stats(name))
            case "GET", ["v1", "projects", name, "ps"]:
                self.reply(200, engine.queries.ps(name, all_containers=query.get("all", ["1"])[0] == "1"))
            case "GET", ["v1", "projects", name, "logs"]:
                self._logs(name, query)
            case "POST", ["v1", "projects", name, "exec"]:
                self._exec(name, self.body())
            case "GET", ["v1", "projects", name, "top"]:
                self.reply(200, engine.queries.top(name, query.get("service", [])))
            case "GET", ["v1", "images"]:
                self.reply(200, [_image_row(i) for i in engine.runtime.images.list()])
            case "POST", ["v1", "images", "import"]:
                body = self.body()
                config = ImageConfig(env=body.get("env") or [], entrypoint=body.get("entrypoint"),
                                     cmd=body.get("cmd"), working_dir=body.get("working_dir") or "",
                                     user=body.get("user") or "", exposed_ports=[], labels={},
                                     stop_signal=None, volumes=[], healthcheck=None)
                image = engine.runtime.images.import_rootfs(Path(body["source"]), body["reference"], config)
                self.reply(200, _image_row(image))
            case "POST", ["v1", "images", "bootstrap"]:
                names = self.body().get("images") or list(DEFAULT_BASE_IMAGES)
                self.reply(200, {"images": ensure_base_images(engine.runtime.images, [str(n) for n in names])})
            case "POST", ["v1", "engine", "shutdown"]:
                self.reply(200, {"ok": True})
                self.server.shutdown_requested.set()
            case _ if events_api.handle(self, engine.store, self.server.shutdown_requested.is_set, method, parts,
                                        query):
                pass
            case _ if images_api.handle(self, engine, method, parts, query):
                pass
            case _ if build_api.handle(self, engine, method, parts, query):
                pass
            case _ if rollout_api.handle(self, engine, method, parts, query):
                pass
            case _ if session_api.handle(self, engine, method, parts, query):
                pass
            case _ if copy_api.handle(self, engine, method, parts, query):
                pass
            case _ if compose_api.handle(self, engine, method, parts, query):
                pass
            case _ if network_routes.handle(self, engine, method, parts, query):
                pass
            case _ if volumes_api.handle(self, engine, method, parts, query):
                pass
            case _:
                self.reply(404, {"error": f"no route {method} /{'/'.join(parts)}"})

    def _logs(self, project: str, query: dict[str, list[str]]) -> None:
        engine = self.server.engine
        services = set(query.get("service", []))
        follow = query.get("follow", ["0"])[0] == "1"
        tail = int(query.get("tail", ["-1"])[0])
        index = int(query["index"][0]) if query.get("index") else None

        def sources() -> list[LogSource]:
            live = [LogSource(c.name, c.service, engine.runtime.log_path(c.id), key=c.id)
                    for c in engine.observe().selected(project, services)
                    if index is None or c.number == index]
            known = {src.key for src in live}
            kept = log_archive.sources(engine.runtime, project, services, index)
            return [src for src in kept if src.key not in known] + live

        self.stream_start()
        connection = self.connection
        stopped = self.server.shutdown_requested.is_set
        pending = bytearray()  # one send per 64 KiB, and whenever the stream waits for more

        def flush() -> None:
            if pending:
                self.wfile.write(bytes(pending))
                self.wfile.flush()
                pending.clear()

        for record in stream_logs(sources, follow, tail, lambda: stopped() or peer_closed(connection), idle=flush):
            pending += json.dumps(record).encode() + b"\n"
            if len(pending) >= 65536:
                flush()
        flush()

    def _exec(self, project: str, body: dict[str, Any]) -> None:
        engine = self.server.engine
        session = engine.ops.exec(project, body["service"], int(body.get("index", 1)), list(body["args"]),
                              env=list(body.get("env") or []), user=body.get("user"), workdir=body.get("workdir"))
        self.stream_start()
        for stream, data in session.output():
            line = {"stream": stream, "data": base64.b64encode(data).decode()}
            self.wfile.write(json.dumps(line).encode() + b"\n")
            self.wfile.flush()
        self.wfile.write(json.dumps({"exit_code": session.wait()}).encode() + b"\n")


def _image_row(image: Any) -> dict[str, Any]:
    return {"id": image.id, "references": list(image.references), "size": image.size}


def serve(engine: Engine, socket_path: Path) -> None:
    """Serve until a shutdown request; the socket is created owner-only (root)."""
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    old = os.umask(0o077)
    try:
        server = _Server(str(socket_path), _Handler)
    finally:
        os.umask(old)
    server.engine = engine
    server.shutdown_requested = threading.Event()
    thread = threading.Thread(target=server.serve_forever, name="pyorch-api", daemon=True)
    thread.start()
    try:
        server.shutdown_requested.wait()
    finally:
        server.shutdown()
        server.server_close()
        socket_path.unlink(missing_ok=True)
