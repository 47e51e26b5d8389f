"""The CLI's connection to the engine: HTTP over the unix socket, starting the engine on demand."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from orchestrator.errors import EngineError, EngineUnavailable
from runtime.layout import HostLayout


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class EngineClient:
    def __init__(self, layout: HostLayout) -> None:
        self.layout = layout
        self.socket_path = str(layout.run_root / "engine.sock")

    def _connection(self, timeout: float | None = 600.0) -> _UnixConnection:
        return _UnixConnection(self.socket_path, timeout)

    def alive(self) -> bool:
        try:
            self.request("GET", "/v1/ping", timeout=2.0, autostart=False)
            return True
        except (OSError, EngineUnavailable):
            return False

    def ensure_engine(self, timeout: float = 20.0) -> None:
        if self.alive():
            return
        self.layout.run_root.mkdir(parents=True, exist_ok=True)
        log = open(self.layout.run_root / "engine.log", "ab")
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
            f"the pyorch engine did not start; see {self.layout.run_root / 'engine.log'}"
        )

    def request(self, method: str, path: str, body: Any = None, timeout: float | None = 600.0,
                autostart: bool = True) -> Any:
        if autostart:
            self.ensure_engine()
        conn = self._connection(timeout)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if payload else {}
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
            except OSError as exc:
                raise EngineUnavailable(f"cannot reach the pyorch engine at {self.socket_path}: {exc}") from exc
            data = json.loads(response.read() or b"null")
            if response.status >= 400:
                raise EngineError(data.get("error", f"engine answered {response.status}"))
            return data
        finally:
            conn.close()

    def stream_post(self, path: str, body: Any) -> Iterator[dict[str, Any]]:
        return self.stream(path, method="POST", body=body)

    def stream(self, path: str, method: str = "GET", body: Any = None) -> Iterator[dict[str, Any]]:
        self.ensure_engine()
        conn = self._connection(timeout=None)
        try:
            payload = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=payload,
                         headers={"Content-Type": "application/json"} if payload else {})
            response = conn.getresponse()
            if response.status >= 400:
                raise EngineError(json.loads(response.read() or b"{}").get("error", "stream refused"))
            while True:
                line = response.readline()
                if not line:
                    return
                yield json.loads(line)
        finally:
            conn.close()
