"""The engine's handle on pyorch-shim: start it when absent, talk JSON lines to it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runtime.errors import RuntimeFailure

_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from runtime.container.shim import main; main(sys.argv[2:])"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class ShimError(RuntimeFailure):
    """The shim refused a request or could not be reached."""


class ShimClient:
    def __init__(self, run_root: Path) -> None:
        self.run_root = run_root
        self.socket_path = run_root / "shim.sock"
        self._lock = threading.Lock()
        self._conn: socket.socket | None = None
        self._buf = b""

    # --- connection ------------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        conn.connect(str(self.socket_path))
        return conn

    def ensure_running(self, timeout: float = 10.0) -> None:
        """Connect to the shim, starting it first if nobody answers."""
        with self._lock:
            if self._conn is not None:
                return
            try:
                self._conn = self._connect()
                return
            except OSError:
                pass
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
                    self._conn = self._connect()
                    return
                except OSError as exc:
                    if time.monotonic() > deadline:
                        raise ShimError(f"pyorch-shim did not come up at {self.socket_path}: {exc}") from exc
                    time.sleep(0.01)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.ensure_running()
        with self._lock:
            assert self._conn is not None
            self._conn.sendall(json.dumps(payload).encode() + b"\n")
            while b"\n" not in self._buf:
                data = self._conn.recv(65536)
                if not data:
                    self._conn.close()
                    self._conn = None
                    raise ShimError("pyorch-shim closed the connection")
                self._buf += data
            line, _, self._buf = self._buf.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise ShimError(str(reply.get("error", "unknown shim error")))
        return reply

    def exec(self, payload: dict[str, Any]) -> tuple[int, int, int]:
        """Start a process in a container: returns its pid and the read ends of its stdout and stderr."""
        self.ensure_running()
        with self._lock:
            assert self._conn is not None and not self._buf
            self._conn.sendall(json.dumps({"op": "exec", **payload}).encode() + b"\n")
            data, fds, _, _ = socket.recv_fds(self._conn, 65536, 2)
            line = data.split(b"\n", 1)[0]
        reply: dict[str, Any] = json.loads(line) if line else {"ok": False, "error": "shim closed the connection"}
        if not reply.get("ok"):
            for fd in fds:
                os.close(fd)
            raise ShimError(str(reply.get("error", "exec failed")))
        return int(reply["pid"]), fds[0], fds[1]

    def exec_status(self, pid: int) -> dict[str, Any] | None:
        info: dict[str, Any] | None = self.request({"op": "exec_status", "pid": pid})["exit"]
        return info

    def events(self) -> Iterator[dict[str, Any]]:
        """A separate connection that yields exit events until the shim goes away."""
        self.ensure_running()
        conn = self._connect()
        try:
            conn.sendall(b'{"op": "subscribe"}\n')
            buf = b""
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    message = json.loads(line)
                    if "event" in message:
                        yield message
        finally:
            conn.close()

    def shim_pid(self) -> int:
        return int(self.request({"op": "ping"})["pid"])


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
        conn.sendall(b'{"op": "ping"}\n')
        pid = json.loads(conn.recv(4096).split(b"\n")[0])["pid"]
    os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.01)
