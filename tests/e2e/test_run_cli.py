"""`pyorch run` of a service that only has `build:`: its image is `<project>-<service>`, built when missing."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch, write

pytestmark = pytest.mark.root


def test_run_builds_and_runs_a_build_only_service(layout: HostLayout, tmp_path: Path) -> None:
    project = "runbuild" + secrets.token_hex(3)  # the image store is shared by the session
    file = write(tmp_path, f"""
name: {project}
services:
  tool:
    build:
      context: .
      dockerfile_inline: |
        FROM pyorch.local/busybox:latest
        RUN echo built-by-run > /built
""")
    pyorch(layout, "image", "bootstrap")
    try:
        result = pyorch(layout, "-f", file, "run", "--rm", "tool", "cat", "/built")
        assert result.stdout.strip() == "built-by-run", result.stderr
        assert f"{project}-tool" in pyorch(layout, "images").stdout
    finally:
        pyorch(layout, "-f", file, "down", "--rmi", "local", check=False)
