"""Compressed layers through a real registry, and skopeo on the other end of the wire."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from runtime.image import ImageConfig, ImageError, ImageStore, Layer
from runtime.image.archive import load_images, save_images
from runtime.image.registry import CredentialStore, Registries, pull_image, push_image
from runtime.image.registry.media import OCI_LAYER_GZIP, OCI_LAYER_ZSTD
from tests.integration.image.registry.servers import run_registry

pytestmark = pytest.mark.root


def _layer_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _compressed_image(store: ImageStore, reference: str) -> str:
    """Two layers as registries serve them: gzip and zstd (the second replaces a file of the first)."""
    layers = []
    for files, compress, media_type in (
            ({"etc/os-release": b"ID=gzip\n", "data/a": b"a" * 100_000}, gzip.compress, OCI_LAYER_GZIP),
            ({"etc/os-release": b"ID=zstd\n", "data/b": b"b" * 100_000},
             zstandard.ZstdCompressor().compress, OCI_LAYER_ZSTD)):
        raw = _layer_tar(files)
        blob = compress(raw)
        digest = store.put_blob(blob)
        layers.append(Layer(digest, "sha256:" + hashlib.sha256(raw).hexdigest(), len(blob), media_type))
    with store.writing():
        return store.add_image(layers, ImageConfig(cmd=["true"]), reference).id


def test_a_layer_that_does_not_match_its_diff_id_is_refused(tmp_path: Path) -> None:
    source = ImageStore(tmp_path / "source")
    raw = _layer_tar({"etc/motd": b"hello\n"})
    blob = gzip.compress(raw)
    digest = source.put_blob(blob)
    lie = "sha256:" + hashlib.sha256(raw + b"x").hexdigest()  # the config claims other content
    with source.writing():
        source.add_image([Layer(digest, lie, len(blob), OCI_LAYER_GZIP)], ImageConfig(), "pyorch.local/lie:1")
    registries = Registries(CredentialStore(tmp_path / "auth.json", fallbacks=[]))
    target = ImageStore(tmp_path / "target")
    with run_registry(tmp_path / "registry") as registry:
        push_image(source, registries, "pyorch.local/lie:1", f"{registry.host}/z/lie:1")
        with pytest.raises(ImageError, match="the image config says"):
            pull_image(target, registries, f"{registry.host}/z/lie:1")
    assert list(target.layers.iterdir()) == [] and target.list() == []


def test_gzip_and_zstd_layers_round_trip_through_a_registry(tmp_path: Path) -> None:
    source = ImageStore(tmp_path / "source")
    image_id = _compressed_image(source, "pyorch.local/layers:1")
    registries = Registries(CredentialStore(tmp_path / "auth.json", fallbacks=[]))
    with run_registry(tmp_path / "registry") as registry:
        push_image(source, registries, "pyorch.local/layers:1", f"{registry.host}/z/layers:1")
        pulled = pull_image(ImageStore(tmp_path / "empty"), registries, f"{registry.host}/z/layers:1")
    assert pulled.id == image_id
    bottom, top = pulled.layer_dirs
    assert (bottom / "etc/os-release").read_bytes() == b"ID=gzip\n"
    assert (top / "etc/os-release").read_bytes() == b"ID=zstd\n"
    assert (top / "data/b").stat().st_size == 100_000


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed (scripts/setup.sh)")
def test_skopeo_and_pyorch_exchange_images_through_a_registry(tmp_path: Path) -> None:
    source = ImageStore(tmp_path / "source")
    image_id = _compressed_image(source, "pyorch.local/layers:1")
    registries = Registries(CredentialStore(tmp_path / "auth.json", fallbacks=[]))
    save_images(source, ["pyorch.local/layers:1"], tmp_path / "layout", "oci-dir")

    def skopeo(*args: str) -> str:
        done = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    with run_registry(tmp_path / "registry") as registry:
        # pyorch's layout → skopeo → registry → pyorch pull: the same image comes back.
        skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'layout'}", f"docker://{registry.host}/s/a:1")
        pulled = pull_image(ImageStore(tmp_path / "p1"), registries, f"{registry.host}/s/a:1")
        assert pulled.id == image_id
        # pyorch push → skopeo reads it from the registry into an OCI layout → pyorch load.
        push_image(source, registries, "pyorch.local/layers:1", f"{registry.host}/s/b:1")
        raw = json.loads(skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{registry.host}/s/b:1"))
        assert [layer["mediaType"] for layer in raw["layers"]] == [OCI_LAYER_GZIP, OCI_LAYER_ZSTD]
        skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/s/b:1", f"oci:{tmp_path / 'sk'}:v1")
    [(loaded_id, reference)] = load_images(ImageStore(tmp_path / "p2"), tmp_path / "sk", "example.com/s/b")
    assert (loaded_id, reference) == (image_id, "example.com/s/b:v1")
