"""The project the fault scenarios bring up and tear down (every kind of step: a network of its
own and a second one, a published port with two replicas behind it, a dependency), and how to
tell that it has converged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from runtime.layout import HostLayout
from tests import helpers
from tests.faults import harness

PROJECT = """
name: faults
services:
  db:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:${PORT}:80"]
    depends_on: [db]
    restart: always
    deploy: {replicas: 2}
  worker:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
    networks: [default, back]
networks:
  back: {}
"""
# Replicas per service. Not their names: a kill before a replica's record exists leaves nothing
# that names it, so the next engine creates it with Compose's next number (the highest + 1): when
# web-2's create got further than web-1's, web-2 and web-3 run. A DEAD container (its record was
# written) is replaced under its own number.
EXPECTED = Counter({"db": 1, "web": 2, "worker": 1})


def write(directory: Path) -> str:
    return helpers.write(directory, PROJECT)


def differences(layout: HostLayout, expected: Counter[str]) -> list[str]:
    """How the project differs from ``expected`` replicas per service, each running once, every
    trace of them in the kernel accounted for (empty when it matches)."""
    rows = harness.ps(layout, "faults")
    problems = harness.mismatches(layout, rows, None)
    services = Counter(str(r["service"]) for r in rows)
    if services != expected:
        problems.append(f"replicas {dict(services)} ({sorted(r['name'] for r in rows)}), expected {dict(expected)}")
    return problems
