"""A service started in an earlier dependency wave is resolvable by name from the later ones while
`up` still waits: a one-shot migration reaches `db` before the app that waits for it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch, write

pytestmark = pytest.mark.root
LOOP = "trap 'exit 0' TERM; while :; do sleep 0.1; done"


def test_a_one_shot_resolves_its_dependency_while_up_waits_for_it(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, f"""
name: depdns
services:
  db:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "{LOOP}"]
  migrate:
    image: pyorch.local/python:3.11
    command: ["python3", "-c", "import socket; print('db is at', socket.gethostbyname('db'))"]
    depends_on: [db]
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "{LOOP}"]
    depends_on:
      migrate: {{condition: service_completed_successfully}}
""")
    pyorch(layout, "image", "bootstrap")
    try:
        done = pyorch(layout, "-f", file, "up", "-d", check=False)
        logs = pyorch(layout, "-f", file, "logs", "migrate").stdout
        assert done.returncode == 0, done.stderr + logs
        assert "db is at 10." in logs
    finally:
        pyorch(layout, "-f", file, "down", check=False)
