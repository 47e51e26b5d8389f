"""The engine asks a shim it did not start for its protocol version (a shim outlives upgrades of
pyorch): the same version is driven, another (or none: a shim from before the handshake) is
refused with what to do, and the old shim is left running."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.container import shim_protocol
from runtime.container.shim_client import ShimClient, ShimError
from runtime.gc import stop_shim
from runtime.layout import HostLayout

pytestmark = pytest.mark.root


def fake_shim(socket_path: Path, reply: dict[str, object]) -> Iterator[list[str]]:
    """A shim that answers every request with ``reply``; yields the ops it was sent."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path))
    server.listen()
    seen: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn, conn.makefile("rb") as lines:
                for line in lines:
                    seen.append(json.loads(line)["op"])
                    conn.sendall(json.dumps(reply).encode() + b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)
        server.close()


@pytest.fixture
def run_root(tmp_path: Path) -> Path:
    root = tmp_path / "run"
    root.mkdir()
    return root


@pytest.mark.parametrize("reply", [{"ok": True, "pid": 4242}, {"ok": True, "pid": 4242, "version": 0}])
def test_a_shim_of_another_version_is_refused_and_left_running(run_root: Path, reply: dict[str, object]) -> None:
    for seen in fake_shim(run_root / "shim.sock", reply):
        client = ShimClient(run_root)
        with pytest.raises(ShimError, match=r"pid 4242.*protocol version .*this pyorch speaks 1.*kill 4242"):
            client.request({"op": "list"})
        assert seen == ["ping"]  # nothing but the question reached it
        assert (run_root / "shim.sock").exists() and not (run_root / "shim.log").exists()  # none started


def test_a_shim_of_this_version_started_elsewhere_is_driven(tmp_path: Path) -> None:
    layout = HostLayout(state_root=tmp_path / "state", run_root=tmp_path / "run", instance="t" + "5e7")
    first = ShimClient(layout.run_root)
    try:
        assert first.ensure_running() is True  # started here: nothing to ask
        second = ShimClient(layout.run_root)    # another engine process, later
        assert second.ensure_running() is False
        assert second.request({"op": "ping"})["version"] == shim_protocol.VERSION
        second.close()
    finally:
        first.close()
        stop_shim(layout.run_root)
