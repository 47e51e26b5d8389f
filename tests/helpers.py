"""Small helpers shared by integration and end-to-end tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from runtime.layout import HostLayout

REPO = Path(__file__).resolve().parents[1]

T = TypeVar("T")


def env_for(layout: HostLayout, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYORCH_ROOT=str(layout.state_root), PYORCH_RUN=str(layout.run_root),
               PYORCH_INSTANCE=layout.instance, **extra)
    return env


def pyorch(layout: HostLayout, *args: str, check: bool = True, timeout: float = 180,
           **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would."""
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], cwd=REPO, env=env_for(layout, **extra_env),
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"pyorch {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def host_address() -> str:
    """The host's own address on its default-route interface (traffic to it stays on the host)."""
    out = subprocess.run(["ip", "-4", "-o", "route", "get", "192.0.2.1"], capture_output=True, text=True,
                         check=False).stdout.split()
    if "src" in out:
        return out[out.index("src") + 1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        return str(s.getsockname()[0])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return int(response.status), response.read().decode(errors="replace")


def wait_http(url: str, deadline_s: float = 20.0) -> tuple[int, str]:
    end = time.monotonic() + deadline_s
    last: Exception | None = None
    while time.monotonic() < end:
        try:
            return http_get(url)
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer: {last}")


def engine_raw(layout: HostLayout, request: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is to the engine's socket; the status, headers and body of the reply
    (a stream's: only what came with its headers)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(layout.run_root / "engine.sock"))
        conn.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                raise AssertionError(f"the engine closed the connection without a reply: {data!r}")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(body) < int(headers.get("content-length", 0)):
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body


def write(directory: Path, text: str) -> str:
    """Write ``text`` as ``directory/compose.yaml``; its path, for ``-f``."""
    path = directory / "compose.yaml"
    path.write_text(text)
    return str(path)


def wait_until(predicate: Callable[[], T], what: str, deadline_s: float = 60.0,
               detail: Callable[[], object] | None = None) -> T:
    """Poll ``predicate`` until it returns something true, and return that; on timeout,
    ``detail()`` says what was seen last."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f": {detail()}" if detail is not None else ""))


def shim_answering(layout: HostLayout) -> int | None:
    """The pid of the shim answering on its socket now (without starting one, as a client would)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2)
            conn.connect(str(layout.run_root / "shim.sock"))
            conn.sendall(b'{"op": "ping"}\n')
            reply = conn.recv(4096)
    except OSError:
        return None
    return int(json.loads(reply.split(b"\n")[0])["pid"]) if reply else None
