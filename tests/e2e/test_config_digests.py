"""`pyorch config --resolve-image-digests`: images pinned to the digest of the copy in pyorch's store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch

pytestmark = pytest.mark.root


def test_images_are_pinned_to_their_digest_in_the_store(layout: HostLayout, tmp_path: Path) -> None:
    pyorch(layout, "image", "bootstrap")
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  app:\n    image: pyorch.local/busybox\n  built:\n    build: .\n"
                       "    image: pyorch.local/busybox@sha256:" + "0" * 64 + "\n")
    inspected = json.loads(pyorch(layout, "image", "inspect", "pyorch.local/busybox").stdout)[0]
    digest = inspected["ManifestDigest"]
    printed = json.loads(pyorch(layout, "-f", str(compose), "config", "--format", "json",
                                "--resolve-image-digests").stdout)
    assert printed["services"]["app"]["image"] == f"pyorch.local/busybox:latest@{digest}"
    assert printed["services"]["built"]["image"] == "pyorch.local/busybox@sha256:" + "0" * 64  # already pinned

    compose.write_text("services:\n  app:\n    image: pyorch.local/not-pulled:1\n")
    refused = pyorch(layout, "-f", str(compose), "config", "--resolve-image-digests", check=False)
    assert refused.returncode != 0
    assert "pyorch.local/not-pulled:1" in refused.stderr and refused.stdout == ""
