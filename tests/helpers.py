"""Small helpers shared by integration and end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from runtime.layout import HostLayout

REPO = Path(__file__).resolve().parents[1]


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
