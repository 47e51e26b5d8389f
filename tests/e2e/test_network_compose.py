"""Compose networking end to end, as a user runs it: a 3-replica published port answered by every
replica from 127.0.0.1, the host address and another container; UDP; ranges and `pyorch port`;
network_mode host/none/service:NAME; ipam (subnet, ip_range, ipv4_address), internal networks,
extra_hosts and hostname; a port conflict refused before anything starts; two projects side by
side isolated; nothing of a project left in the kernel after `down`. No traffic leaves the host
(forwarding off, PYORCH_DNS_FORWARD=none)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import free_port, host_address, http_get, pyorch, wait_until, write

pytestmark = pytest.mark.root

SUBNET = "10.214.77.0/24"
HTTPD = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"
UDP_ECHO = ("import os, socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', 53))\n"
            "while True:\n"
            "    _, peer = s.recvfrom(512); s.sendto(os.uname().nodename.encode(), peer)\n")

MAIN = f"""
name: neta
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "{HTTPD}"]
    deploy: {{replicas: 3}}
    ports: ["${{WEB}}:80"]
    networks: {{front: {{aliases: [www]}}}}
  echo:
    image: pyorch.local/python:3.11
    command: ["python3", "-c", {json.dumps(UDP_ECHO)}]
    ports:
      - "${{UDP}}:53/udp"
      - {{target: 8000, host_ip: 127.0.0.1, published: "${{LOW}}-${{HIGH}}"}}
    networks: [front]
  client:
    image: pyorch.local/busybox:latest
    command: ["sleep", "3600"]
    hostname: clienthost
    extra_hosts: ["fixed.example:192.0.2.10"]
    networks: [front, back]
  sidecar:
    image: pyorch.local/busybox:latest
    command: ["sleep", "3600"]
    network_mode: "service:client"
  hostnet:
    image: pyorch.local/busybox:latest
    command: ["sleep", "3600"]
    network_mode: host
  lonely:
    image: pyorch.local/busybox:latest
    command: ["sleep", "3600"]
    network_mode: none
  pinned:
    image: pyorch.local/busybox:latest
    command: ["sleep", "3600"]
    networks: {{back: {{ipv4_address: 10.214.77.50}}}}
networks:
  front: {{}}
  back:
    internal: true
    labels: {{tier: back}}
    ipam: {{config: [{{subnet: {SUBNET}, ip_range: 10.214.77.128/25}}]}}
"""

OTHER = """
name: netb
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "HTTPD"]
    ports: ["${WEB}:80"]
""".replace("HTTPD", HTTPD)


def run(layout: HostLayout, file: str, env: dict[str, str], service: str, script: str) -> str:
    """One `exec` per container and question (each exec costs a CLI start)."""
    result = pyorch(layout, "-f", file, "exec", "-T", service, "sh", "-c", script, check=False, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def rows(layout: HostLayout, file: str, env: dict[str, str]) -> list[dict[str, object]]:
    return list(json.loads(pyorch(layout, "-f", file, "ps", "--format", "json", **env).stdout))


def udp_ask(port: int) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"who", ("127.0.0.1", port))
        return s.recv(512).decode()


def hostnames_seen(url_of: object, tries: int = 12) -> set[str]:
    assert callable(url_of)
    return {str(url_of()).strip() for _ in range(tries)}


def kernel_traces(layout: HostLayout, project: str, subnet: str | None = None) -> list[str]:
    """Bridges, routes and nft rules that still name the project's networks or ports."""
    traces = []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    for key in ("front", "back", "default"):
        bridge = layout.bridge_name(f"{project}_{key}")
        if f" {bridge}:" in links:
            traces.append(f"bridge {bridge}")
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    if subnet is not None and subnet.split("/")[0] in routes:
        traces.append(f"route to {subnet}")
    rules = subprocess.run(["nft", "list", "table", "ip", layout.nft_table], capture_output=True, text=True,
                           check=False).stdout
    if f'"{project}/' in rules or (subnet is not None and subnet in rules):
        traces.append("nftables rules")
    return traces


def test_compose_networking_end_to_end(layout: HostLayout, tmp_path: Path) -> None:
    web, udp, low = free_port(), free_port(), free_port()
    env = {"WEB": str(web), "UDP": str(udp), "LOW": str(low), "HIGH": str(low + 3), "PYORCH_DNS_FORWARD": "none"}
    main = write(tmp_path, MAIN)
    (tmp_path / "b").mkdir()
    other = write(tmp_path / "b", OTHER)
    pyorch(layout, "image", "bootstrap", **env)  # starts the engine: with forwarding off
    try:
        pyorch(layout, "-f", main, "up", "-d", **env)
        listing = rows(layout, main, env)
        webs = {str(r["name"]): r for r in listing if r["service"] == "web"}
        assert len(webs) == 3

        # The published port reaches every replica from 127.0.0.1, the host address, another container.
        wait_until(lambda: http_get(f"http://127.0.0.1:{web}/")[0] == 200, "web to answer", 20)
        loopback = hostnames_seen(lambda: http_get(f"http://127.0.0.1:{web}/")[1])
        assert len(loopback) == 3
        assert hostnames_seen(lambda: http_get(f"http://{host_address()}:{web}/")[1]) == loopback
        from_container = run(layout, main, env, "client",
                             f"for i in $(seq 12); do timeout 5 wget -q -O - http://{host_address()}:{web}/; done; "
                             "echo; cat /etc/hosts")
        assert set(from_container.split("\n\n")[0].split()) == loopback
        assert "192.0.2.10\tfixed.example" in from_container and "clienthost" in from_container

        # UDP, a published range and `pyorch port`.
        wait_until(lambda: _answers(udp), "the UDP echo to answer", 20)
        echo_host = udp_ask(udp)
        assert echo_host and echo_host not in loopback
        assert pyorch(layout, "-f", main, "port", "web", "80", **env).stdout.strip() == f"0.0.0.0:{web}"
        assert pyorch(layout, "-f", main, "port", "--index", "3", "web", "80", **env).stdout.strip() == \
            f"0.0.0.0:{web}"
        assert pyorch(layout, "-f", main, "port", "--protocol", "udp", "echo", "53",
                      **env).stdout.strip() == f"0.0.0.0:{udp}"
        ranged = pyorch(layout, "-f", main, "port", "echo", "8000", **env).stdout.strip()
        assert ranged.startswith("127.0.0.1:") and low <= int(ranged.rsplit(":", 1)[1]) <= low + 3
        missing = pyorch(layout, "-f", main, "port", "--index", "4", "web", "80", check=False, **env)
        assert missing.returncode != 0 and "no running container #4" in missing.stderr

        # Modes, addresses, names.
        client = next(r for r in listing if r["service"] == "client")
        networks = dict(client["networks"])  # type: ignore[call-overload]
        sidecar = run(layout, main, env, "sidecar", "hostname; ip -4 -o addr").split("\n", 1)
        assert sidecar[0] == "clienthost"  # the joined container's hostname and addresses
        assert str(networks["neta_front"]) in sidecar[1] and str(networks["neta_back"]) in sidecar[1]
        assert layout.bridge_name("neta_front") in run(layout, main, env, "hostnet", "ls /sys/class/net")
        lonely = run(layout, main, env, "lonely", "ls /sys/class/net; cat /sys/class/net/lo/flags").split()
        assert lonely[0] == "lo" and len(lonely) == 2 and int(lonely[1], 16) & 1  # only lo, and it is up
        pinned = next(r for r in listing if r["service"] == "pinned")
        assert dict(pinned["networks"]) == {"neta_back": "10.214.77.50"}  # type: ignore[call-overload]
        assert int(str(networks["neta_back"]).rsplit(".", 1)[1]) >= 128  # dynamic: from ip_range

        # A second project: its port clash is refused before anything starts, then it runs isolated.
        clash = pyorch(layout, "-f", other, "up", "-d", check=False, **env)
        assert clash.returncode != 0 and f"port {web}/tcp is already published by neta/web" in clash.stderr
        assert rows(layout, other, env) == []
        assert layout.bridge_name("netb_default") not in _links()
        other_env = {**env, "WEB": str(free_port())}
        pyorch(layout, "-f", other, "up", "-d", **other_env)
        b_ip = str(dict(rows(layout, other, other_env)[0]["networks"])["netb_default"])  # type: ignore[call-overload]
        wait_until(lambda: http_get(f"http://127.0.0.1:{other_env['WEB']}/")[0] == 200, "netb to answer", 20)
        reach = run(layout, main, env, "client",
                    f"timeout 3 wget -q -O - http://{b_ip}/ || echo refused; "
                    f"timeout 5 wget -q -O - http://{host_address()}:{other_env['WEB']}/").split()
        assert reach[0] == "refused"  # no path between the projects' networks
        assert len(reach) == 2 and reach[1] not in loopback  # but its published port answers, as to any host
        pyorch(layout, "-f", other, "down", "-t", "1", **other_env)
        assert kernel_traces(layout, "netb") == []
    finally:
        pyorch(layout, "-f", main, "down", "-t", "1", **env)
        pyorch(layout, "-f", other, "down", "-t", "1", check=False, **env)
    assert kernel_traces(layout, "neta", SUBNET) == []


def _answers(port: int) -> bool:
    try:
        return bool(udp_ask(port))
    except OSError:
        return False


def _links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
