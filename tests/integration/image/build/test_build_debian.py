"""A real Dockerfile on the Debian base image: RUN apt-get update && apt-get install, through the
build network, from the host's configured Debian mirror (the only address besides the host)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.container.runtime import ContainerRuntime
from runtime.image.build import Builder, BuildRequest
from tests.integration.image.build.test_builder import run_image_cmd

pytestmark = pytest.mark.root


def test_apt_get_install_in_a_run_step(debian_image: str, rt: ContainerRuntime, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {debian_image}\n"
        "RUN apt-get update \\\n"
        " && apt-get install -y --no-install-recommends hello \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
        'CMD ["hello"]\n')
    lines: list[str] = []
    result = Builder(rt).build(BuildRequest(context=context), lambda e: lines.append(e.text))
    assert any("Setting up hello" in line for line in lines)
    code, out = run_image_cmd(rt, result.image.id, "hello; dpkg -s hello | grep -c '^Status: install ok installed'")
    assert (code, out) == (0, ["Hello, world!", "1"])
