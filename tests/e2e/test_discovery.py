"""Service discovery that follows containers as they come and go, as applications rely on it.

- A one-shot `migrate` gated on `db: service_healthy`, itself gating `web`, resolves `db` and
  talks to it on a fresh `up`: names resolve as soon as a container runs, while `up` still waits
  on later dependency waves (the classic database → migrations → app chain).
- A rolling update of a 3-replica service under a client that resolves the service name for every
  request and connects straight to the address (no published port, no retry): not one request
  fails, because a new replica enters DNS only once admitted and an old one leaves it (and its
  connections drain) before it is stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.bridge_netfilter import VALUES, bridge_nf_call_iptables
from tests.helpers import pyorch, wait_until, write

pytestmark = pytest.mark.root
ENV = {"PYORCH_DNS_FORWARD": "none"}

DB = ("import socket, time\n"
      "time.sleep(1)  # a database takes a moment before it accepts connections\n"
      "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
      "s.bind(('', 5432)); s.listen(16)\n"
      "while True:\n"
      "    c, _ = s.accept(); c.sendall(b'db-ready\\n'); c.close()\n")
MIGRATE = ("import socket, sys\n"
           "try:\n"
           "    with socket.create_connection(('db', 5432), timeout=5) as s:\n"
           "        print('migrated against', s.makefile().readline().strip(), flush=True)\n"
           "except OSError as exc:\n"
           "    print('migration failed:', exc, flush=True); sys.exit(1)\n")
HEALTHY = "import socket; socket.create_connection(('127.0.0.1', 5432), 2).close()"

CHAIN = f"""
name: chain
services:
  db:
    image: pyorch.local/python:3.11
    command: ["python3", "-c", {json.dumps(DB)}]
    healthcheck:
      test: ["CMD", "python3", "-c", "{HEALTHY}"]
      interval: 300ms
      timeout: 5s
      retries: 30
  migrate:
    image: pyorch.local/python:3.11
    command: ["python3", "-c", {json.dumps(MIGRATE)}]
    depends_on: {{db: {{condition: service_healthy}}}}
  web:
    image: pyorch.local/busybox:latest
    command: ["sleep", "3600"]
    depends_on: {{migrate: {{condition: service_completed_successfully}}}}
"""


def test_a_one_shot_gated_on_a_healthy_database_resolves_it_on_a_fresh_up(layout: HostLayout,
                                                                           tmp_path: Path) -> None:
    file = write(tmp_path, CHAIN)
    pyorch(layout, "image", "bootstrap", **ENV)  # starts the engine: with forwarding off
    try:
        up = pyorch(layout, "-f", file, "up", "-d", check=False, **ENV)
        logs = pyorch(layout, "-f", file, "logs", "migrate", check=False, **ENV).stdout
        assert up.returncode == 0, f"{up.stderr}\nmigrate: {logs}"
        assert "migrated against db-ready" in logs
        rows = {r["service"]: r for r in json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json",
                                                           **ENV).stdout)}
        assert (rows["migrate"]["status"], rows["migrate"]["exit_code"]) == ("exited", 0)
        assert rows["web"]["status"] == "running"
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1", **ENV)


# The client: resolves `web` for every request (gethostbyname_ex keeps the DNS server's order, so
# requests go round the replicas) and connects to that address; one attempt each, no retry. It
# keeps its counts in /tmp/stats.json for the test to read.
CLIENT = r'''
import json, os, socket, time
ok, failures, n = {}, [], 0
while True:
    try:
        address = socket.gethostbyname_ex("web")[2][0]
        with socket.create_connection((address, 80), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
        if " 200 " not in head.split("\r\n")[0] + " ":
            raise OSError(f"{address}: {head.splitlines()[0] if head else 'no answer'}")
        ok[body.strip()] = ok.get(body.strip(), 0) + 1
    except Exception as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
    n += 1
    with open("/tmp/stats.tmp", "w") as f:
        json.dump({"ok": ok, "failures": failures[:20], "failed": len(failures), "sent": n}, f)
    os.replace("/tmp/stats.tmp", "/tmp/stats.json")
    time.sleep(0.005)
'''

ROLLING = f"""
name: dnsroll
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo \\"$$VERSION\\" > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment:
      VERSION: ${{VERSION}}
    healthcheck:
      test: ["CMD-SHELL", "test -s /www/index.html"]
      interval: 500ms
      timeout: 5s
      retries: 4
    deploy:
      replicas: 3
      update_config:
        parallelism: 1
        order: start-first
        monitor: 1s
  client:
    image: pyorch.local/python:3.11
    command: ["python3", "-c", {json.dumps(CLIENT)}]
    depends_on: {{web: {{condition: service_healthy}}}}
"""


@pytest.fixture(params=VALUES, ids=[f"bridge-nf-call-iptables={v}" for v in VALUES])
def bridge_nf(request: pytest.FixtureRequest) -> Iterator[str]:
    """Drained connections are seen differently: in the host's conntrack only with it on."""
    with bridge_nf_call_iptables(request.param):
        yield str(request.param)


def stats(layout: HostLayout, file: str, env: dict[str, str]) -> dict[str, object]:
    out = pyorch(layout, "-f", file, "exec", "-T", "client", "python3", "-c",
                 "print(open('/tmp/stats.json').read())", **env).stdout
    return dict(json.loads(out))


def test_a_rolling_update_fails_no_request_of_a_client_that_resolves_every_time(layout: HostLayout,
                                                                               tmp_path: Path,
                                                                               bridge_nf: str) -> None:
    file = write(tmp_path, ROLLING)
    v1, v2 = {**ENV, "VERSION": "v1"}, {**ENV, "VERSION": "v2"}
    pyorch(layout, "image", "bootstrap", **ENV)  # starts the engine: with forwarding off
    try:
        pyorch(layout, "-f", file, "up", "-d", "--wait", **v1)
        wait_until(lambda: _sent(layout, file, v1) > 20, "the client to get going", 30)
        before = stats(layout, file, v1)
        pyorch(layout, "-f", file, "up", "-d", "--wait", **v2)
        sent = int(str(stats(layout, file, v2)["sent"]))
        time.sleep(0.5)
        wait_until(lambda: _sent(layout, file, v2) > sent + 20, "requests after the rollout", 30)
        after = stats(layout, file, v2)
        ok = dict(after["ok"])  # type: ignore[call-overload]
        assert before["failed"] == 0, before["failures"]
        assert after["failed"] == 0, f"{after['failed']} failed requests: {after['failures']}"
        assert ok.get("v1", 0) > int(dict(before["ok"]).get("v1", 0)) and ok.get("v2", 0) > 0, ok  # type: ignore[call-overload]
        rows = json.loads(pyorch(layout, "-f", file, "ps", "--format", "json", **v2).stdout)
        assert sum(r["service"] == "web" and r["status"] == "running" for r in rows) == 3
        record = {r["service"]: r for r in json.loads(pyorch(layout, "-f", file, "rollout", "status", "--format",
                                                             "json", **v2).stdout)}["web"]
        assert (record["status"], record["updated"], record["failed"]) == ("completed", 3, 0)
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1", **ENV)


def _sent(layout: HostLayout, file: str, env: dict[str, str]) -> int:
    try:
        return int(str(stats(layout, file, env)["sent"]))
    except (AssertionError, ValueError, KeyError):
        return 0
