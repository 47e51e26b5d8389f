"""`pyorch build` and `up` of the multi-stage example: built by the engine, cached on rebuild, served."""

from __future__ import annotations

import re

import pytest

from runtime.image import ImageStore
from runtime.image.bootstrap import ensure_base_images
from runtime.layout import HostLayout
from tests.helpers import pyorch, wait_http

pytestmark = pytest.mark.root
EXAMPLE = "compose-examples/build-multistage/compose.yaml"


def test_compose_build_caches_and_up_runs_the_built_image(layout: HostLayout) -> None:
    ensure_base_images(ImageStore(layout.images_dir))
    first = pyorch(layout, "-f", EXAMPLE, "build")
    # Compose v2's plain progress: numbered steps, per stage and service, with their output and time
    assert re.search(r"^#\d+ \[web assets 4/4\] RUN sed ", first.stderr, re.M), first.stderr
    assert re.search(r"^#\d+ DONE \d+\.\ds$", first.stderr, re.M)
    assert re.search(r"^#\d+ \[web\] exporting to image$", first.stderr, re.M)
    assert first.stdout.startswith("web: docker.io/library/build-multistage-web:latest sha256:")
    second = pyorch(layout, "-f", EXAMPLE, "build")
    assert len(re.findall(r"^#\d+ CACHED$", second.stderr, re.M)) == 4  # WORKDIR, COPY, RUN, COPY --from
    assert second.stdout == first.stdout

    inspect = pyorch(layout, "image", "inspect", "pyorch.local/build-example:1.0").stdout
    assert '"org.example.team": "docs"' in inspect and '"8080/tcp"' in inspect
    pyorch(layout, "rmi", "pyorch.local/build-example:1.0", "build-multistage-web")
    try:
        up = pyorch(layout, "-f", EXAMPLE, "up", "-d")  # the image is missing: up builds it, and shows it
        assert re.search(r"^#\d+ \[web assets 4/4\] RUN sed ", up.stderr, re.M), up.stderr
        status, body = wait_http("http://127.0.0.1:18480/")
        assert status == 200 and "version 1.0" in body
        assert "notes.draft" not in pyorch(layout, "-f", EXAMPLE, "exec", "web", "ls", "/www").stdout
    finally:
        pyorch(layout, "-f", EXAMPLE, "down", check=False)

    broken = pyorch(layout, "image", "build", "-t", "x:1", "--target", "nosuch", "compose-examples/build-multistage",
                    check=False)
    assert broken.returncode == 1
    assert "target stage 'nosuch' not found (stages: assets)" in broken.stderr
