"""The CLI finds the engine's socket where the engine puts it (one rule, runtime.layout's), and
says in words when the engine goes away during a request (repeating what is safe to repeat)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from orchestrator.cli.client import EngineClient, repeatable
from orchestrator.errors import EngineGone, EngineUnavailable
from runtime.layout import HostLayout
from runtime.run_root import run_root_of


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "/run/pyorch"),
    ({"PYORCH_ROOT": "/srv/pyorch"}, "/srv/pyorch/run"),
    ({"PYORCH_RUN": "/tmp/run-here"}, "/tmp/run-here"),
    ({"PYORCH_ROOT": "/srv/pyorch", "PYORCH_RUN": "/tmp/run-here"}, "/tmp/run-here"),
])
def test_the_client_finds_the_engine_where_the_runtime_puts_it(environ: dict[str, str], expected: str) -> None:
    assert run_root_of(environ) == HostLayout.from_env(environ).run_root == Path(expected)


class _Engine:
    """A unix-socket server standing in for the engine: it reads a request, then either dies
    without answering or answers 200 with a JSON body."""

    def __init__(self, path: Path, answers: list[bytes | None]) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(4)
        self.answers = answers
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for answer in self.answers:
            conn, _ = self.sock.accept()
            with conn:
                self.requests.append(conn.recv(65536).split(b"\r\n", 1)[0])
                if answer is not None:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))


def _client(tmp_path: Path, answers: list[bytes | None]) -> tuple[EngineClient, _Engine]:
    client = EngineClient(tmp_path)
    engine = _Engine(tmp_path / "engine.sock", answers)
    client.ensure_engine = lambda timeout=20.0: None  # type: ignore[method-assign]  # it is up already
    return client, engine


def test_an_engine_that_dies_mid_request_is_told_in_words(tmp_path: Path) -> None:
    client, engine = _client(tmp_path, [None])
    with pytest.raises(EngineGone) as caught:
        client.request("POST", "/v1/projects/demo/kill", {"services": []})
    message = str(caught.value)
    assert "the pyorch engine stopped while it handled POST /v1/projects/demo/kill" in message
    assert "may or may not have taken effect" in message and "engine.log" in message
    assert engine.requests == [b"POST /v1/projects/demo/kill HTTP/1.1"]  # not repeated: a signal is not idempotent


def test_a_repeatable_request_is_sent_again_to_the_next_engine(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    client, engine = _client(tmp_path, [None, b'{"removed": []}'])
    assert client.request("POST", "/v1/projects/demo/down", {}) == {"removed": []}
    assert engine.requests == [b"POST /v1/projects/demo/down HTTP/1.1"] * 2
    assert "the engine stopped during POST /v1/projects/demo/down" in capsys.readouterr().err


def test_a_repeatable_stream_is_sent_again_when_the_engine_died_before_it_answered(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`up` builds missing images through a stream first: an engine killed there failed the
    whole `up` (tests/faults/test_engine_kill.py, random-time kills)."""
    client, engine = _client(tmp_path, [None, b'{"done": true}\n'])
    assert list(client.stream("/v1/projects/build", method="POST", body={"missing": True})) == [{"done": True}]
    assert engine.requests == [b"POST /v1/projects/build HTTP/1.1"] * 2
    assert "the engine stopped during POST /v1/projects/build" in capsys.readouterr().err


def test_a_stream_that_is_not_repeatable_is_told_in_words(tmp_path: Path) -> None:
    client, engine = _client(tmp_path, [None])
    with pytest.raises(EngineGone, match="may or may not have taken effect"):
        list(client.stream("/v1/images/push", method="POST", body={}))
    assert engine.requests == [b"POST /v1/images/push HTTP/1.1"]


def test_a_client_that_follows_an_engine_starts_none(tmp_path: Path) -> None:
    """Attached `up`, `up --wait`, `wait` and `stats` follow the engine they reached: when it is
    gone they fail instead of starting one (for an instance a failed test may have torn down)."""
    started: list[bool] = []
    client = EngineClient(tmp_path)  # no engine listens here
    client.ensure_engine = lambda timeout=20.0: started.append(True)  # type: ignore[method-assign]
    with pytest.raises(EngineUnavailable):
        client.request("GET", "/v1/projects/demo/ps?all=1")
    assert started == [True]  # a command of its own starts one
    started.clear()
    client.follow()
    with pytest.raises(EngineUnavailable, match="cannot reach the pyorch engine"):
        client.request("GET", "/v1/projects/demo/ps?all=1")
    with pytest.raises(EngineUnavailable):
        list(client.stream("/v1/projects/demo/logs?follow=1"))
    assert started == []
    followed, engine = _client(tmp_path, [None])
    followed.ensure_engine = lambda timeout=20.0: started.append(True)  # type: ignore[method-assign]
    followed.follow()
    with pytest.raises(EngineGone):  # it died mid-request: a repeatable read is not sent to a new one
        followed.request("GET", "/v1/projects/demo/ps?all=1")
    assert started == [] and engine.requests == [b"GET /v1/projects/demo/ps?all=1 HTTP/1.1"]


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/v1/projects/demo/ps?all=1", True),
    ("POST", "/v1/projects/up", True),
    ("POST", "/v1/projects/demo/down", True),
    ("POST", "/v1/projects/demo/scale", True),
    ("POST", "/v1/projects/demo/rm", True),
    ("POST", "/v1/projects/build", True),
    ("POST", "/v1/projects/demo/kill", False),
    ("POST", "/v1/projects/demo/exec", False),
    ("POST", "/v1/projects/demo/run", False),
    ("POST", "/v1/projects/demo/rollback", False),
    ("POST", "/v1/images/push", False),
])
def test_which_requests_are_repeated(method: str, path: str, expected: bool) -> None:
    assert repeatable(method, path) is expected
