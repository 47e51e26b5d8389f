"""The engine API validates before it acts (issue 20): a bad request is a 4xx naming what is wrong,
and nothing has happened; bodies are capped, reads time out, the backlog takes a burst, a known
path with another method is a 405 with Allow. Raw HTTP over the unix socket, as any client."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from orchestrator.engine.api_schema import MAX_BODY_BYTES
from runtime.layout import HostLayout
from tests.helpers import engine_raw, pyorch

pytestmark = pytest.mark.root

COMPOSE = """
name: checked
services:
  a:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
    init: true
"""


def call(layout: HostLayout, method: str, path: str, body: bytes | None = None,
         headers: str = "") -> tuple[int, dict[str, str], dict[str, object]]:
    content = b"" if body is None else body
    request = (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}"
               f"Content-Length: {len(content)}\r\n\r\n").encode() + content
    status, reply_headers, reply = engine_raw(layout, request)
    return status, reply_headers, json.loads(reply) if reply else {}


def test_bad_requests_are_refused_before_anything_happens(layout: HostLayout, tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", str(compose), "up", "-d", "--wait")
    try:
        # issue 20: this answered 500 after the project was forgotten and SIGTERM sent
        status, _, reply = call(layout, "POST", "/v1/projects/checked/down", b'{"timeout": "5"}')
        assert status == 400 and "body.timeout" in str(reply["error"]), reply
        rows = json.loads(pyorch(layout, "-f", str(compose), "ps", "--format", "json").stdout)
        assert [r["status"] for r in rows] == ["running"]  # nothing happened
        assert "checked" in pyorch(layout, "ls").stdout

        refused = [
            ("POST", "/v1/projects/checked/stop", b"{not json"),
            ("POST", "/v1/projects/checked/stop", b'{"services": ["\xff\xfe"]}'),  # not UTF-8
            ("POST", "/v1/projects/checked/stop", b"[1, 2]"),
            ("POST", "/v1/projects/up", b'{"project": {}, "options": "force"}'),
            ("POST", "/v1/projects/checked/kill", b'{"signal": "abc"}'),
            ("POST", "/v1/projects/checked/exec", b'{"args": ["true"]}'),
            ("POST", "/v1/projects/checked/scale", b'{"scale": {"a": -1}}'),
            ("GET", "/v1/projects/checked/logs?tail=abc", None),
            ("GET", "/v1/events?after=abc", None),
            ("GET", "/v1/projects/checked/ps?all=yes", None),
        ]
        for method, path, body in refused:
            status, _, reply = call(layout, method, path, body)
            assert status == 400, (path, body, status, reply)
        named = {
            "options": call(layout, "POST", "/v1/projects/up", b'{"project": {}, "options": "force"}')[2],
            "signal": call(layout, "POST", "/v1/projects/checked/kill", b'{"signal": "abc"}')[2],
            "service": call(layout, "POST", "/v1/projects/checked/exec", b'{"args": ["true"]}')[2],
            "tail": call(layout, "GET", "/v1/projects/checked/logs?tail=abc")[2],
            "after": call(layout, "GET", "/v1/events?after=abc")[2],
        }
        for field, reply in named.items():
            assert field in str(reply["error"]), (field, reply)
        rows = json.loads(pyorch(layout, "-f", str(compose), "ps", "--format", "json").stdout)
        assert [r["status"] for r in rows] == ["running"]  # not killed, not stopped

        # methods: a known path with another method is a 405 naming what is allowed
        status, headers, _ = call(layout, "GET", "/v1/projects/up")
        assert (status, headers.get("allow")) == (405, "POST")
        status, headers, _ = call(layout, "DELETE", "/v1/ping")
        assert (status, headers.get("allow")) == (405, "GET")
        assert call(layout, "GET", "/v1/no/such/thing")[0] == 404
        status, _, reply = call(layout, "BREW", "/v1/ping")  # a method HTTP does not define (RFC 9110)
        assert status == 501 and "BREW" in str(reply["error"]), reply  # JSON as every other error

        # bodies: capped (413 without reading it), a length that is not one, chunked
        status, _, reply = raw_json(layout, b"POST /v1/projects/checked/stop HTTP/1.1\r\nHost: x\r\n"
                                            + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode())
        assert status == 413, reply
        status, _, reply = raw_json(layout, b"POST /v1/projects/checked/stop HTTP/1.1\r\nHost: x\r\n"
                                            b"Content-Length: -1\r\n\r\n")
        assert status == 400 and "Content-Length" in str(reply["error"]), reply
        status, _, _ = raw_json(layout, b"POST /v1/projects/checked/stop HTTP/1.1\r\nHost: x\r\n"
                                        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        assert status == 411
        assert call(layout, "GET", "/v1/ping")[0] == 200
    finally:
        pyorch(layout, "-f", str(compose), "down", "-t", "1")


def raw_json(layout: HostLayout, request: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    status, headers, body = engine_raw(layout, request)
    return status, headers, json.loads(body) if body else {}


def test_a_stalled_client_is_dropped_and_a_burst_of_clients_is_taken(layout: HostLayout) -> None:
    pyorch(layout, "ls", PYORCH_API_TIMEOUT="1")  # starts the engine with a 1 s read timeout
    try:
        # a body that never comes: the handler gives up instead of waiting for ever
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stalled:
            stalled.settimeout(30)
            stalled.connect(str(layout.run_root / "engine.sock"))
            stalled.sendall(b"POST /v1/projects/x/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}")
            assert call(layout, "GET", "/v1/ping")[0] == 200  # others are served meanwhile
            try:
                ended = stalled.recv(65536) is not None  # the reply (or the end) comes: it was dropped
            except TimeoutError:
                ended = False
            assert ended

        # 200 clients connecting at once, each ready to give up after 2 s: none is turned away
        failures: list[str] = []

        def connect() -> None:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(2.0)
                try:
                    conn.connect(str(layout.run_root / "engine.sock"))
                    time.sleep(0.5)
                except OSError as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=connect) for _ in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == [], f"{len(failures)} of 200: {failures[:3]}"
        assert call(layout, "GET", "/v1/ping")[0] == 200
    finally:
        pyorch(layout, "engine", "stop", check=False)
