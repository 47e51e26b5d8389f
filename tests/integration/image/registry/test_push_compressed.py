"""A built image (plain layers in the store) pushed with gzip or zstd layers: the registry, skopeo
and a pull by pyorch all see the same manifest digest, and the image id is unchanged."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from runtime.container.runtime import ContainerRuntime
from runtime.image import ImageStore
from runtime.image.build import Builder, BuildRequest
from runtime.image.registry import CredentialStore, Registries, pull_image, push_image
from runtime.image.registry.media import OCI_LAYER_GZIP, OCI_LAYER_ZSTD
from tests.integration.image.registry.servers import run_registry

pytestmark = pytest.mark.root
MEDIA = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}


def skopeo(*args: str) -> str:
    done = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_pushed_compressed_and_pulled_back_with_the_same_digest(rt: ContainerRuntime, tmp_path: Path,
                                                                compression: str) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM pyorch.local/busybox:latest\n"
                                        "RUN head -c 200000 /dev/urandom | base64 > /data.txt\n")
    built = Builder(rt).build(BuildRequest(context=context, no_cache=True,
                                           tags=[f"pyorch.local/pushed:{compression}"])).image
    registries = Registries(CredentialStore(tmp_path / "auth.json", fallbacks=[]))
    with run_registry(tmp_path / "registry") as registry:
        target = f"{registry.host}/built/app:{compression}"
        pushed = push_image(rt.images, registries, built.id, target, compression=compression)

        raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{target}")
        assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == pushed
        document = json.loads(raw)
        assert [layer["mediaType"] for layer in document["layers"]] == [MEDIA[compression]] * 2
        assert json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{target}"))["Digest"] == pushed
        skopeo("copy", "--src-tls-verify=false", "--preserve-digests", f"docker://{target}",
               f"oci:{tmp_path / 'by-skopeo'}:v1")
        [entry] = json.loads((tmp_path / "by-skopeo" / "index.json").read_text())["manifests"]
        assert entry["digest"] == pushed  # skopeo pulled the very manifest, layers verified against it

        pulled = pull_image(ImageStore(tmp_path / "empty"), registries, target)
        assert (pulled.id, pulled.manifest_digest) == (built.id, pushed)
        assert (pulled.layer_dirs[-1] / "data.txt").read_bytes() == (built.layer_dirs[-1] / "data.txt").read_bytes()

        blobs = sorted(rt.images.blobs.iterdir())
        again = push_image(rt.images, registries, built.id, f"{registry.host}/built/again:1", compression=compression)
        assert again == pushed and sorted(rt.images.blobs.iterdir()) == blobs  # compressed once, same bytes
    # the pushed manifest is the image's too: it resolves by digest and survives a prune
    assert rt.images.resolve(f"pyorch.local/pushed@{pushed}").id == built.id
    rt.images.prune(keep_ids={built.id})
    assert rt.images.has_blob(pushed) and all(rt.images.has_blob(layer["digest"]) for layer in document["layers"])
