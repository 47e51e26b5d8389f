"""What a plain `up -d` costs the CLI process: one request, and none of the heavy imports (the
Compose model, rich, dataclasses, the terminal session), which each cost every command milliseconds
of start-up (docs/engine.md, "Speed of `up` and `down`")."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

HEAVY = ["dataclasses", "pydantic", "yaml", "rich", "hashlib", "orchestrator.spec.model",
         "orchestrator.cli.session", "orchestrator.cli.cmd_build", "orchestrator.cli.build_progress_tty",
         "runtime.layout"]
UP_ANSWER = {"project": "demo", "revision": 1, "errors": [], "services": ["web"], "containers": [], "warnings": []}


def _serve(listener: socket.socket, requests: list[bytes]) -> None:
    """Answer every request with `up`'s answer until the listener closes."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            while len(body) < length:
                body += conn.recv(65536)
            requests.append(head.split(b"\r\n", 1)[0])
            answer = json.dumps(UP_ANSWER).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))


def test_up_detached_is_one_request_without_heavy_imports(tmp_path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "engine.sock"))
    listener.listen(4)
    requests: list[bytes] = []
    server = threading.Thread(target=_serve, args=(listener, requests), daemon=True)
    server.start()
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n")
    probe = ("import atexit, json, sys\n"
             f"atexit.register(lambda: print(json.dumps([m for m in {HEAVY!r} if m in sys.modules])))\n"
             "from orchestrator.cli.main import main\n"
             "main(['-f', 'compose.yaml', 'up', '-d'])\n")
    try:
        done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, env=dict(os.environ, PYORCH_RUN=str(tmp_path)))
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
    assert requests == [b"POST /v1/projects/up HTTP/1.1"]
