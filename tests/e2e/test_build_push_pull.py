"""Build, Ship and Run: an image pyorch built is pushed to a real registry, removed, pulled back into
the store and run, printing what its build wrote; a tag moved in the registry is pulled (`pull`,
`up --pull always`) and the next `up` recreates the service from the image it now names."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.e2e.test_images_cli import _private_store
from tests.helpers import free_port, http_get, pyorch, wait_http
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


def test_a_tag_moved_by_pull_recreates_the_service_at_the_next_up(layout: HostLayout, tmp_path: Path) -> None:
    _private_store(layout)
    pyorch(layout, "image", "bootstrap")
    port = free_port()
    context = tmp_path / "ctx"
    context.mkdir()
    compose = tmp_path / "compose.yaml"

    def cli(*args: str) -> str:
        return pyorch(layout, "-f", str(compose), *args).stdout

    def container_id() -> str:
        rows = json.loads(cli("ps", "--format", "json"))
        assert len(rows) == 1 and rows[0]["status"] == "running", rows
        return str(rows[0]["id"])

    with run_registry(tmp_path / "registry", "none") as registry:
        remote = f"{registry.host}/demo/site:1"

        def publish(release: str) -> None:
            """A new image pushed under the same remote tag; the local store's copy of that tag
            moves only when it is pulled."""
            (context / "Dockerfile").write_text(
                "FROM pyorch.local/busybox:latest\n"
                f"RUN mkdir -p /www && echo {release} > /www/index.html\n"
                'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n')
            pyorch(layout, "image", "build", str(context), "-t", f"pyorch.local/site:{release}")
            pyorch(layout, "push", f"pyorch.local/site:{release}", remote)

        publish("one")
        pyorch(layout, "pull", remote)
        compose.write_text(f"name: moved\nservices:\n  site:\n    image: {remote}\n"
                           f"    ports: [\"127.0.0.1:{port}:8080\"]\n")
        url = f"http://127.0.0.1:{port}/"
        try:
            cli("up", "-d")
            first = container_id()
            assert wait_http(url)[1].strip() == "one"

            publish("two")
            cli("up", "-d")  # pull_policy missing: the local tag has not moved, nothing to do
            assert container_id() == first and http_get(url)[1].strip() == "one"
            cli("pull")  # the project's images: the tag moves, what runs stays until the next up
            assert container_id() == first
            cli("up", "-d")
            second = container_id()
            assert second != first and wait_http(url)[1].strip() == "two"

            publish("three")
            cli("up", "-d", "--pull", "always")
            assert container_id() != second and wait_http(url)[1].strip() == "three"
        finally:
            cli("down", "-t", "1")
