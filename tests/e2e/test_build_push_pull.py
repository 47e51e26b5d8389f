"""Build, Ship and Run: an image pyorch built is pushed to a real registry, removed, pulled back into
the store and run, printing what its build wrote."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.e2e.test_images_cli import _private_store
from tests.helpers import pyorch
from tests.integration.image.registry.servers import run_registry

pytestmark = pytest.mark.root


def test_built_image_goes_through_a_registry_and_runs(layout: HostLayout, tmp_path: Path) -> None:
    _private_store(layout)
    pyorch(layout, "image", "bootstrap")
    marker = secrets.token_hex(8)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "greeting.txt").write_text(f"hello {marker}\n")
    (context / "Dockerfile").write_text(
        "FROM pyorch.local/busybox:latest\n"
        "COPY greeting.txt /srv/greeting.txt\n"
        "RUN echo built-by-run >> /srv/greeting.txt\n"
        'CMD ["cat", "/srv/greeting.txt"]\n')
    pyorch(layout, "image", "build", str(context), "-t", "pyorch.local/greeter:1")
    built_id = json.loads(pyorch(layout, "image", "inspect", "pyorch.local/greeter:1").stdout)[0]["Id"]
    with run_registry(tmp_path / "registry", "none") as registry:
        remote = f"{registry.host}/demo/greeter:1"
        pyorch(layout, "push", "pyorch.local/greeter:1", remote)
        pyorch(layout, "rmi", "pyorch.local/greeter:1", remote, check=False)
        pyorch(layout, "image", "prune", "-a")
        gone = pyorch(layout, "image", "inspect", remote, check=False)
        assert gone.returncode != 0
        pyorch(layout, "pull", remote)
    pulled = json.loads(pyorch(layout, "image", "inspect", remote).stdout)[0]
    assert pulled["Id"] == built_id  # the same config digest: nothing changed on the way
    compose = tmp_path / "compose.yaml"
    compose.write_text(f"name: greeter\nservices:\n  app:\n    image: {remote}\n    pull_policy: never\n")
    try:
        result = pyorch(layout, "-f", str(compose), "run", "--rm", "app")
        assert f"hello {marker}" in result.stdout and "built-by-run" in result.stdout
    finally:
        pyorch(layout, "-f", str(compose), "down", "-t", "1")
