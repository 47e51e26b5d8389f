"""RUN steps and the network: the build network by default (reaching a server on the host through
its gateway), none, host only when granted, extra hosts; nothing of the network left after."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runtime.container.runtime import ContainerRuntime
from runtime.image.build import Builder, BuildError, BuildRequest
from runtime.image.build.network import BUILD_NETWORK
from runtime.network import NetworkManager
from tests.integration.image.build.test_builder import run_image_cmd

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"


@contextlib.contextmanager
def host_server(body: bytes) -> Iterator[tuple[int, list[str]]]:
    """An HTTP server in the host's network namespace, on every address (the build network's
    gateway among them); yields its port and the client addresses it served."""
    clients: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            clients.append(self.client_address[0])
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), clients
    finally:
        server.shutdown()
        server.server_close()


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    return context


def test_run_reaches_a_server_on_the_host_through_the_build_network(rt: ContainerRuntime, tmp_path: Path) -> None:
    token = secrets.token_hex(8)
    with host_server(token.encode()) as (port, clients):
        context = _context(tmp_path, f"FROM {BUSYBOX}\n"
                                     f"RUN timeout 10 wget -q -O /fetched http://hostside:{port}/ && "
                                     "ip -4 route > /route\n")
        request = BuildRequest(context=context, extra_hosts={"hostside": "host-gateway"}, no_cache=True)
        result = Builder(rt).build(request)
        code, lines = run_image_cmd(rt, result.image.id, "echo \"$(cat /fetched)\"; cat /route")
        assert code == 0 and lines[0] == token
        assert any(line.startswith("default via ") for line in lines[1:])  # a real route out, not loopback
        assert clients and not any(c.startswith("127.") for c in clients)  # came in on the build network

        none = BuildRequest(context=context, extra_hosts={"hostside": "host-gateway"}, no_cache=True,
                            network="none")
        with pytest.raises(BuildError, match="returned a non-zero code"):
            Builder(rt).build(none)
        flag = _context(tmp_path, f"FROM {BUSYBOX}\nRUN --network=none timeout 10 wget -q -O- http://hostside:{port}/\n")
        with pytest.raises(BuildError, match="returned a non-zero code"):
            Builder(rt).build(BuildRequest(context=flag, extra_hosts={"hostside": "host-gateway"}, no_cache=True))
    assert BUILD_NETWORK not in {n.name for n in NetworkManager(rt.layout).list_networks()}


def test_host_network_only_when_granted_and_extra_hosts(rt: ContainerRuntime, tmp_path: Path) -> None:
    context = _context(tmp_path, f"FROM {BUSYBOX}\nRUN --network=host cat /etc/hosts > /hosts-host\n"
                                 "RUN --network=none cat /etc/hosts > /hosts-none\n")
    with pytest.raises(BuildError, match=r"network\.host entitlement"):
        Builder(rt).build(BuildRequest(context=context))
    result = Builder(rt).build(BuildRequest(context=context, allow=frozenset({"network.host"}),
                                            extra_hosts={"db.internal": "10.1.2.3"}))
    code, lines = run_image_cmd(rt, result.image.id, "cat /hosts-none; echo ==; cat /hosts-host")
    split = lines.index("==")
    assert code == 0 and "10.1.2.3\tdb.internal" in lines[:split]
    assert Path("/etc/hosts").read_text().splitlines()[0] in lines[split + 1:]  # the host's own file
    with pytest.raises(BuildError, match="build network 'proj_default' is not supported"):
        Builder(rt).build(BuildRequest(context=context, network="proj_default"))
