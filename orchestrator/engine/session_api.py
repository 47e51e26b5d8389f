"""The engine's routes that hand a client a terminal session: `exec`, `run` and `attach`.

The engine finds the container, has the shim start the session, and replies with the client's end
of it attached to the HTTP reply (SCM_RIGHTS over the API's unix socket); from then on the bytes
go between the client and the shim, without the engine (runtime/container/session.py). A keystroke
costs no hop through the engine, and restarting the engine mid-session cuts nothing.

    POST /v1/projects/{name}/sessions/exec    {service, index, args, env, user, workdir, tty, stdin, size}
                                              → {"pid": N}
    POST /v1/projects/{name}/sessions/attach  {service, index, stdin}
                                              → {"container": name, "tty": bool, "stdin_open": bool}
    POST /v1/projects/{name}/sessions/run     `run`'s body with {tty, stdin_open, size}
                                              → {"id": ..., "name": ...}: attached before it starts
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.engine.compose_api import run_oneoff
from orchestrator.engine.labels import Labelled
from orchestrator.engine.project_ops import ProjectOps
from orchestrator.errors import EngineError
from runtime.container.runtime import ContainerRuntime


class Handler(Protocol):
    """What this module needs of the API's request handler."""

    connection: socket.socket
    close_connection: bool

    def body(self) -> dict[str, Any]: ...
    def reply(self, status: int, payload: Any) -> None: ...


@dataclass(frozen=True)
class SessionRoutes:
    runtime: ContainerRuntime                               # the shim starts sessions and attaches
    running_replica: Callable[[str, str, int], Labelled]    # Queries.service_container
    ops: ProjectOps                                         # `run` creates its one-off container

    def handle(self, handler: Handler, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
        """Serve the request if it is one of ours; False lets the caller answer 404."""
        match method, parts:
            case "POST", ["v1", "projects", name, "sessions", "exec"]:
                payload, session = self.exec(name, handler.body())
            case "POST", ["v1", "projects", name, "sessions", "attach"]:
                payload, session = self.attach(name, handler.body())
            case "POST", ["v1", "projects", name, "sessions", "run"]:
                payload, session = self.run(name, handler.body())
            case _:
                return False
        with session:
            reply_with_socket(handler, payload, session)
        return True

    def exec(self, project: str, body: dict[str, Any]) -> tuple[dict[str, Any], socket.socket]:
        args = [str(a) for a in body.get("args") or []]
        if not args:
            raise EngineError("exec needs a command")
        container = self.running_replica(project, str(body["service"]), int(body.get("index") or 1))
        pid, session = self.runtime.exec_session(
            container.id, args, env=[str(e) for e in body.get("env") or []], user=body.get("user") or None,
            workdir=body.get("workdir") or None, tty=bool(body.get("tty")), stdin=bool(body.get("stdin")),
            size=_size(body))
        return {"pid": pid, "container": container.name}, session

    def attach(self, project: str, body: dict[str, Any]) -> tuple[dict[str, Any], socket.socket]:
        container = self.running_replica(project, str(body["service"]), int(body.get("index") or 1))
        meta, session = self.runtime.attach(container.id, stdin=bool(body.get("stdin")))
        return {"container": container.name, "tty": bool(meta.get("tty")),
                "stdin_open": bool(meta.get("stdin_open"))}, session

    def run(self, project: str, body: dict[str, Any]) -> tuple[dict[str, Any], socket.socket]:
        sessions: list[socket.socket] = []

        def attach(cid: str) -> None:  # created, not started: the client sees the command's first byte
            sessions.append(self.runtime.attach(cid, stdin=bool(body.get("stdin_open")))[1])

        try:
            created = run_oneoff(self.ops, project, body, before_start=attach)
        except BaseException:
            for session in sessions:
                session.close()
            raise
        return created, sessions[0]


def reply_with_socket(handler: Handler, payload: dict[str, Any], passed: socket.socket) -> None:
    """A JSON reply that carries a descriptor (SCM_RIGHTS), sent in one message, then the end."""
    body = json.dumps(payload).encode()
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Pyorch-Session: 1\r\nConnection: close\r\n\r\n").encode()
    data = head + body
    sent = socket.send_fds(handler.connection, [data], [passed.fileno()])
    if sent < len(data):
        handler.connection.sendall(data[sent:])
    handler.close_connection = True


def _size(body: dict[str, Any]) -> tuple[int, int] | None:
    size = body.get("size")
    if isinstance(size, list) and len(size) == 2 and all(isinstance(n, int) and 0 < n < 65536 for n in size):
        return size[0], size[1]
    return None
