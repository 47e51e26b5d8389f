"""Traffic between services, as a user's application sends it, with bridge netfilter off and on.

The same two projects run twice: with `net.bridge.bridge-nf-call-iptables` at 0 and at 1 (the
fixture saves the host's value and puts it back, also on failure). Each time, real bytes from
inside containers: HTTP and UDP between services by name, every replica of a 3-replica service
reached by name (each request resolves again), a replica reaching its own service name, DNS over
TCP, a network with ICC off refusing direct traffic but not its published port, no path between
the two projects, hairpin through a published port, and `host-gateway` reaching a server this
test runs on the host (it answers only the client container). Nothing leaves the host: DNS
forwarding is off and every address is a container's, the host's own or loopback.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.bridge_netfilter import SYSCTL, VALUES, bridge_nf_call_iptables
from tests.helpers import free_port, host_address, http_get, pyorch, wait_until, write

pytestmark = pytest.mark.root

HTTPD = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"
SLEEP = "import time; time.sleep(3600)"
UDP_ECHO = ("import os, socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', 5353))\n"
            "while True:\n"
            "    _, peer = s.recvfrom(512); s.sendto(os.uname().nodename.encode(), peer)\n")

# Runs inside a python container: argv[1] is a JSON list of [label, kind, host, port, times];
# prints {label: [answer or "blocked", ...]}. Every request resolves the name again (TTL 0).
PROBE = r'''
import json, socket, struct, sys

def read_all(s):
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data

def dns_tcp(name):
    server = next(l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver"))
    q = struct.pack("!6H", 0x1234, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!2H", 1, 1)
    with socket.create_connection((server, 53), timeout=3) as s:
        s.sendall(struct.pack("!H", len(q)) + q)
        reader = s.makefile("rb")
        reply = reader.read(struct.unpack("!H", reader.read(2))[0])
    flags, _, answers = struct.unpack("!HHH", reply[2:8])
    return f"rcode {flags & 0xF}, {answers} answers from {server}"

def once(kind, host, port):
    try:
        if kind == "dns_tcp":
            return dns_tcp(host)
        if kind == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(3)
                s.sendto(b"who", (socket.gethostbyname_ex(host)[2][0], port))
                return s.recv(512).decode().strip()
        # gethostbyname_ex keeps the DNS server's order (round robin); getaddrinfo (also behind
        # Python's gethostbyname) sorts a subnet's addresses by their common prefix with ours
        # (RFC 6724 rule 9) and so sticks to one replica.
        with socket.create_connection((socket.gethostbyname_ex(host)[2][0], port), timeout=3) as s:
            s.settimeout(3)
            if kind == "http":
                s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            text = read_all(s).decode(errors="replace")
        return (text.split("\r\n\r\n", 1)[1] if kind == "http" else text).strip() or "empty"
    except OSError:
        return "blocked"

print(json.dumps({label: [once(kind, host, port) for _ in range(times)]
                  for label, kind, host, port, times in json.loads(sys.argv[1])}))
'''

MAIN = f"""
name: trafa
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "{HTTPD}"]
    deploy: {{replicas: 3}}
    ports: ["${{WEB}}:80"]
  echo:
    image: pyorch.local/python:3.11
    command: ["python3", "-c", {json.dumps(UDP_ECHO)}]
  client:
    image: pyorch.local/python:3.11
    command: ["python3", "-c", "{SLEEP}"]
    extra_hosts: ["host.docker.internal:host-gateway"]
  quiet-web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "{HTTPD}"]
    ports: ["${{QUIET}}:80"]
    networks: [quiet]
  quiet-client:
    image: pyorch.local/python:3.11
    command: ["python3", "-c", "{SLEEP}"]
    networks: [quiet]
networks:
  quiet:
    driver_opts: {{com.docker.network.bridge.enable_icc: "false"}}
"""

OTHER = f"""
name: trafb
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "{HTTPD}"]
"""


@pytest.fixture(params=VALUES, ids=[f"bridge-nf-call-iptables={v}" for v in VALUES])
def bridge_nf(request: pytest.FixtureRequest) -> Iterator[str]:
    with bridge_nf_call_iptables(request.param):
        yield str(request.param)


class HostServer:
    """A TCP server on the host (0.0.0.0) that greets only one peer address and closes the rest."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(4)
        self.port = int(self.sock.getsockname()[1])
        self.allowed: str | None = None
        self.seen: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            with conn:
                self.seen.append(peer[0])
                if peer[0] == self.allowed:
                    conn.sendall(b"host\n")

    def close(self) -> None:
        self.sock.close()


def exec_out(layout: HostLayout, file: str, env: dict[str, str], service: str, *argv: str,
             index: int = 1) -> str:
    result = pyorch(layout, "-f", file, "exec", "-T", "--index", str(index), service, *argv, check=False, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def probe(layout: HostLayout, file: str, env: dict[str, str], service: str,
          probes: list[tuple[str, str, str, int, int]]) -> dict[str, list[str]]:
    out = exec_out(layout, file, env, service, "python3", "-c", PROBE, json.dumps(probes))
    return {k: list(v) for k, v in json.loads(out).items()}


def containers(layout: HostLayout, file: str, env: dict[str, str]) -> list[dict[str, object]]:
    return list(json.loads(pyorch(layout, "-f", file, "ps", "--format", "json", **env).stdout))


def test_services_reach_each_other_whatever_bridge_netfilter(layout: HostLayout, tmp_path: Path,
                                                              bridge_nf: str) -> None:
    env = {"WEB": str(free_port()), "QUIET": str(free_port()), "PYORCH_DNS_FORWARD": "none"}
    main = write(tmp_path, MAIN)
    (tmp_path / "b").mkdir()
    other = write(tmp_path / "b", OTHER)
    server = HostServer()
    pyorch(layout, "image", "bootstrap", **env)  # starts the engine: with forwarding off
    try:
        pyorch(layout, "-f", main, "up", "-d", **env)
        pyorch(layout, "-f", other, "up", "-d", **env)
        if SYSCTL.exists():  # `info` shows the setting as it is now
            shown = json.loads(pyorch(layout, "info", "--format", "json").stdout)["bridge_netfilter"]
            assert shown["call_iptables"] == int(bridge_nf)
        rows = containers(layout, main, env)
        by_service: dict[str, list[dict[str, object]]] = {}
        for row in rows:
            by_service.setdefault(str(row["service"]), []).append(row)
        webs = {str(r["id"])[:12] for r in by_service["web"]}  # hostname: the id's first 12 digits
        echo = str(by_service["echo"][0]["id"])[:12]
        quiet_web = str(by_service["quiet-web"][0]["id"])[:12]
        quiet_ip = str(dict(by_service["quiet-web"][0]["networks"])["trafa_quiet"])  # type: ignore[call-overload]
        web_ip = str(dict(by_service["web"][0]["networks"])["trafa_default"])  # type: ignore[call-overload]
        server.allowed = str(dict(by_service["client"][0]["networks"])["trafa_default"])  # type: ignore[call-overload]
        bridge = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", layout.bridge_name("trafa_default")],
                                capture_output=True, text=True, check=True).stdout.split()
        gateway = bridge[bridge.index("inet") + 1].split("/")[0]  # the embedded DNS server's address
        b_row = containers(layout, other, env)[0]
        b_ip = str(dict(b_row["networks"])["trafb_default"])  # type: ignore[call-overload]
        assert len(webs) == 3
        wait_until(lambda: _answers(f"http://127.0.0.1:{env['WEB']}/"), "web to answer", 30)
        wait_until(lambda: _answers(f"http://127.0.0.1:{env['QUIET']}/"), "quiet-web to answer", 30)

        seen = probe(layout, main, env, "client", [
            ("web", "http", "web", 80, 12),
            ("echo", "udp", "echo", 5353, 2),
            ("dns-tcp", "dns_tcp", "web", 53, 1),
            ("hairpin", "http", host_address(), int(env["WEB"]), 9),
            ("host-gateway", "tcp", "host.docker.internal", server.port, 1),
            ("other-project", "http", b_ip, 80, 1),
            ("other-network", "http", quiet_ip, 80, 1),
        ])
        assert set(seen["web"]) == webs  # every replica, by name, TCP
        assert seen["echo"] == [echo, echo]  # UDP by name
        assert seen["dns-tcp"] == [f"rcode 0, 3 answers from {gateway}"]  # the embedded DNS over TCP
        assert set(seen["hairpin"]) == webs  # through the published port on the host's address
        assert seen["host-gateway"] == ["host"] and server.seen == [server.allowed]  # not masqueraded
        assert seen["other-project"] == ["blocked"] and seen["other-network"] == ["blocked"]

        # A replica reaches its own service name. glibc's getaddrinfo puts the replica's own
        # address first (RFC 6724 rule 9: it matches the source completely), so it answers itself.
        second = next(str(r["id"])[:12] for r in by_service["web"] if r["number"] == 2)
        own = exec_out(layout, main, env, "web", "sh", "-c",
                       "for i in $(seq 3); do timeout 5 wget -q -O - http://web/; done", index=2)
        assert own.split() == [second] * 3

        # ICC off: no direct traffic inside the network, by address or by name; the published
        # port answers from the host and from the very peer that cannot reach it directly.
        quiet = probe(layout, main, env, "quiet-client", [
            ("direct", "http", quiet_ip, 80, 1),
            ("by-name", "http", "quiet-web", 80, 1),
            ("published", "http", host_address(), int(env["QUIET"]), 2),
        ])
        assert quiet == {"direct": ["blocked"], "by-name": ["blocked"], "published": [quiet_web, quiet_web]}
        assert http_get(f"http://127.0.0.1:{env['QUIET']}/")[1].strip() == quiet_web

        # No path from the other project either.
        back = exec_out(layout, other, env, "web", "sh", "-c",
                        f"timeout 3 wget -q -O - http://{web_ip}/ || echo blocked")
        assert back.split() == ["blocked"]
    finally:
        server.close()
        pyorch(layout, "-f", other, "down", "-t", "1", check=False, **env)
        pyorch(layout, "-f", main, "down", "-t", "1", check=False, **env)
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    assert layout.nft_table not in tables  # both tables (ip and bridge) gone with the last network


def _answers(url: str) -> bool:
    try:
        return http_get(url)[0] == 200
    except OSError:
        return False
