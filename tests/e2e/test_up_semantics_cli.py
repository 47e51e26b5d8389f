"""Compose's `up` and `restart` semantics through the CLI on the real engine: a rebuilt image under
the same tag recreates at the next `up` (and `up --build` at once; its `network_mode: service:` joiner with it, its
`depends_on.restart` dependant stopped and started again), `up` starts killed containers and runs
a one-shot again, `restart` takes restart-dependants along, unknown service names are refused,
`ps -a` shows no ports of exited containers, and an orphan's published port goes with `down`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runtime.layout import HostLayout
from tests.helpers import free_port, http_get, pyorch, wait_until

pytestmark = pytest.mark.root

COMPOSE = """
name: upsem
services:
  db:
    build: {context: ., args: {REL: "${REL:-1}"}}
    image: upsem/db:1
    command: ["sh", "-c", "mkdir -p /www && cp /release /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:${WEB}:8080"]
    restart: always
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    depends_on: {db: {condition: service_started, restart: true}}
    restart: always
  sidecar:
    image: pyorch.local/busybox:latest
    network_mode: "service:db"
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
  once:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo ran; exit 3"]
  dbg:
    image: pyorch.local/busybox:latest
    command: ["httpd", "-f", "-p", "80"]
    ports: ["127.0.0.1:${DBG}:80"]
    profiles: [debug]
"""

DOCKERFILE = """
FROM pyorch.local/busybox:latest
ARG REL=1
RUN echo "$REL" > /release
"""


def test_up_and_restart_as_compose(layout: HostLayout, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    web, dbg = free_port(), free_port()
    env = {"WEB": str(web), "DBG": str(dbg)}
    file = str(tmp_path / "compose.yaml")

    def cli(*args: str, check: bool = True, **more: str) -> subprocess.CompletedProcess[str]:
        return pyorch(layout, "-f", file, *args, check=check, **env, **more)

    def rows() -> dict[str, dict[str, Any]]:
        return {r["service"]: r for r in json.loads(cli("ps", "-a", "--format", "json").stdout)}

    pyorch(layout, "image", "bootstrap")
    try:
        cli("--profile", "debug", "up", "-d")
        cli("up", "-d")  # without the profile: dbg is left running, an orphan
        first = rows()
        assert first["once"]["status"] == "exited" and first["once"]["ports"] == []  # nothing published
        assert first["db"]["ports"] == [f"127.0.0.1:{web}->8080/tcp"]
        assert http_get(f"http://127.0.0.1:{web}/")[1].strip() == "1"

        for verb in (("kill",), ("stop",), ("restart",), ("logs",), ("start",), ("pause",)):
            refused = cli(*verb, "nosuch", check=False)
            assert refused.returncode == 1 and "no such service: nosuch" in refused.stderr, (verb, refused.stderr)

        # up starts what was killed and runs the one-shot again
        cli("kill", "app")
        wait_until(lambda: rows()["app"]["status"] == "exited", "app killed")
        runs = cli("logs", "once").stdout.count("ran")  # every up so far ran it once
        cli("up", "-d")
        again = rows()
        assert again["app"]["status"] == "running" and again["app"]["id"] == first["app"]["id"]
        assert cli("logs", "once").stdout.count("ran") == runs + 1

        # restart db: app (restart: true) and sidecar (its namespace: Compose implies restart: true) too
        cli("restart", "db")
        restarted = rows()
        for service in ("db", "app", "sidecar"):
            assert restarted[service]["id"] == again[service]["id"]
            assert restarted[service]["started_at"] > again[service]["started_at"], service

        # the same tag rebuilt: the build changes nothing running, the next up recreates
        cli("build", "db", REL="2")
        assert rows()["db"]["id"] == restarted["db"]["id"]
        cli("up", "-d", REL="2")
        rebuilt = rows()
        assert rebuilt["db"]["id"] != restarted["db"]["id"]
        assert http_get(f"http://127.0.0.1:{web}/")[1].strip() == "2"
        assert rebuilt["sidecar"]["id"] != restarted["sidecar"]["id"]  # recreated into the new db's namespace
        inside = cli("exec", "sidecar", "timeout", "5", "wget", "-qO-", "http://127.0.0.1:8080/", REL="2")
        assert inside.stdout.strip() == "2"
        assert rebuilt["app"]["id"] == restarted["app"]["id"]  # stopped before, started after the db
        assert rebuilt["app"]["started_at"] > rebuilt["db"]["started_at"]
        assert rebuilt["app"]["status"] == "running"
        cli("up", "-d", "--no-recreate", REL="2")
        assert rows()["db"]["id"] == rebuilt["db"]["id"]
        # up --build: rebuilt in the same call, and what runs the old image is recreated
        cli("up", "-d", "--build", REL="3")
        assert rows()["db"]["id"] != rebuilt["db"]["id"]
        assert http_get(f"http://127.0.0.1:{web}/")[1].strip() == "3"

        cli("down", "-v", REL="3")
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
        assert layout.nft_table not in tables  # no rule left for the orphan's port either
    finally:
        cli("down", "-v", check=False)
