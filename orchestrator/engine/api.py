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
import socketserver
import threading
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


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    engine: Engine
    shutdown_requested: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (Ctrl-C on `logs -f`, a probe connection): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    # --- plumbing ------------------------------------------------------------------------------------
    def body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        data: dict[str, Any] = json.loads(self.rfile.read(length))
        return data

    def reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
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
        query = parse_qs(url.query)
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
