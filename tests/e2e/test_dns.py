"""Service discovery from inside containers: service names (every replica), aliases, container
names, per network; another network's names stay invisible. No query leaves the host: forwarding
is switched off (PYORCH_DNS_FORWARD=none) and the second network is internal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch, wait_until, write

pytestmark = pytest.mark.root

COMPOSE = """
name: dnsproj
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["httpd", "-f", "-p", "80"]
    deploy: {replicas: 3}
    networks:
      front: {aliases: [www]}
  client:
    image: pyorch.local/busybox:latest
    command: ["sleep", "3600"]
    networks: [front, back]
  loner:
    image: pyorch.local/busybox:latest
    command: ["sleep", "3600"]
    networks: [back]
networks:
  front: {}
  back: {internal: true}
"""
ENV = {"PYORCH_DNS_FORWARD": "none"}


def lookup(layout: HostLayout, file: str, service: str, name: str) -> tuple[int, set[str]]:
    result = pyorch(layout, "-f", file, "exec", "-T", service, "nslookup", name, check=False, **ENV)
    answers = result.stdout.split("Name:", 1)[1] if "Name:" in result.stdout else ""
    return result.returncode, set(re.findall(r"Address:\s*([0-9.]+)\s*$", answers, re.MULTILINE))


def web_addresses(layout: HostLayout, file: str) -> set[str]:
    import json

    rows = json.loads(pyorch(layout, "-f", file, "ps", "--format", "json", **ENV).stdout)
    return {str(r["networks"]["dnsproj_front"]) for r in rows if r["service"] == "web"}


def test_names_resolve_per_network(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    pyorch(layout, "image", "bootstrap", **ENV)
    try:
        pyorch(layout, "-f", file, "up", "-d", **ENV)
        replicas = web_addresses(layout, file)
        assert len(replicas) == 3
        wait_until(lambda: lookup(layout, file, "client", "web")[1] == replicas, "web to resolve to 3 replicas",
                   20)
        assert lookup(layout, file, "client", "www")[1] == replicas
        code, one = lookup(layout, file, "client", "dnsproj-web-2")
        assert code == 0 and len(one) == 1 and one <= replicas
        code, found = lookup(layout, file, "loner", "web")
        assert code != 0 and not found  # `back` knows no web
        assert lookup(layout, file, "loner", "client")[1]  # but client is on back too
        # Scaling down shows within a pass: the table follows the running replicas.
        pyorch(layout, "-f", file, "stop", "web", **ENV)
        wait_until(lambda: lookup(layout, file, "client", "web")[0] != 0, "web to disappear", 20)
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1", **ENV)
