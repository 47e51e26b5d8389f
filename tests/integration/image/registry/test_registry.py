"""Push to and pull from a real registry on 127.0.0.1 (no auth, htpasswd, token), then run what came back."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.image import ImageStore
from runtime.image.bootstrap import BUSYBOX_REF, ensure_base_images
from runtime.image.registry import (
    AuthenticationFailed,
    Credentials,
    CredentialStore,
    DigestMismatch,
    PlatformNotFound,
    Registries,
    TransferEvent,
    parse_platform,
    pull_image,
    push_image,
)
from runtime.image.registry.media import OCI_INDEX
from runtime.layout import HostLayout
from tests.integration.image.registry.servers import PASSWORD, USER, RunningRegistry, run_registry

pytestmark = pytest.mark.root


@pytest.fixture
def source(layout: HostLayout) -> ImageStore:
    store = ImageStore(layout.images_dir)
    ensure_base_images(store)
    return store


def _registries(tmp_path: Path, registry: RunningRegistry | None = None, password: str = PASSWORD) -> Registries:
    creds = CredentialStore(tmp_path / "auth.json", fallbacks=[])
    if registry is not None:
        creds.save(registry.host, Credentials(USER, password))
    return Registries(creds)


def _run(runtime: ContainerRuntime, image: str, command: list[str]) -> tuple[int | None, str]:
    info = runtime.create(RunConfig(name="pulled", image=image, command=command))
    try:
        runtime.start(info.id)
        deadline = time.monotonic() + 30
        while runtime.inspect(info.id).status != "exited":
            assert time.monotonic() < deadline, "container did not exit"
            time.sleep(0.02)
        return runtime.inspect(info.id).exit_code, runtime.log_path(info.id).read_text()
    finally:
        runtime.remove(info.id, force=True)


@pytest.mark.parametrize("auth", ["none", "htpasswd", "token"])
def test_push_then_pull_into_an_empty_store_and_run(auth: str, layout: HostLayout, source: ImageStore,
                                                    tmp_path: Path) -> None:
    original = source.resolve(BUSYBOX_REF)
    with run_registry(tmp_path / "registry", auth) as registry:
        registries = _registries(tmp_path, registry if auth != "none" else None)
        target = f"{registry.host}/team/busybox:1.0"
        pushed = push_image(source, registries, BUSYBOX_REF, target, chunk_size=512 * 1024 if auth == "none" else None)
        assert pushed != original.manifest_digest  # the plain layer went gzip-compressed, under a new manifest

        empty = ImageStore(tmp_path / "empty")
        events: list[TransferEvent] = []
        pulled = pull_image(empty, registries, target, listener=events.append)
        if auth == "token":
            assert any(r.startswith("user repository:team/busybox:") for r in registry.token_requests)
    assert (pulled.id, pulled.manifest_digest) == (original.id, pushed)
    assert pulled.references == [target]
    assert pulled.config == original.config
    assert {e.status for e in events} >= {"resolved", "downloading", "unpacking", "done"}

    runtime = ContainerRuntime(layout, images=empty)
    try:
        code, log = _run(runtime, target, ["sh", "-c", "echo pulled-and-running; ls /www"])
    finally:
        runtime.shim.close()
    assert code == 0
    assert "pulled-and-running" in log and "index.html" in log


def test_credentials_are_required_and_checked(source: ImageStore, tmp_path: Path) -> None:
    with run_registry(tmp_path / "basic", "htpasswd") as basic:
        with pytest.raises(AuthenticationFailed, match="pyorch login"):
            push_image(source, _registries(tmp_path / "anon"), BUSYBOX_REF, f"{basic.host}/x/y:1")
        with pytest.raises(AuthenticationFailed):
            push_image(source, _registries(tmp_path / "bad", basic, "wrong"), BUSYBOX_REF, f"{basic.host}/x/y:1")
    with run_registry(tmp_path / "token", "token") as token:
        with pytest.raises(AuthenticationFailed):
            push_image(source, _registries(tmp_path / "bad2", token, "wrong"), BUSYBOX_REF, f"{token.host}/x/y:1")
        with pytest.raises(AuthenticationFailed):  # anonymous tokens grant nothing on this server
            pull_image(ImageStore(tmp_path / "s"), _registries(tmp_path / "anon2"), f"{token.host}/x/y:1")


def test_cached_blobs_resumed_downloads_and_platform_index(source: ImageStore, tmp_path: Path) -> None:
    original = source.resolve(BUSYBOX_REF)
    manifest = json.loads(source.blob_path(original.manifest_digest).read_bytes())
    layer = manifest["layers"][0]
    blob = source.blob_path(layer["digest"]).read_bytes()
    with run_registry(tmp_path / "registry") as registry:
        registries = _registries(tmp_path)
        push_image(source, registries, BUSYBOX_REF, f"{registry.host}/lib/box:1", compression="none")

        # A partial download with a wrong prefix is resumed with Range, fails verification, is thrown away.
        store = ImageStore(tmp_path / "store")
        partial = store.blob_path(layer["digest"]).with_name(".partial-" + layer["digest"][7:])
        partial.write_bytes(b"X" * (len(blob) // 2))
        with pytest.raises(DigestMismatch):
            pull_image(store, registries, f"{registry.host}/lib/box:1")
        assert not partial.exists() and not store.has_blob(layer["digest"])
        # A partial download with the right prefix is completed.
        partial.write_bytes(blob[: len(blob) // 2])
        events: list[TransferEvent] = []
        pull_image(store, registries, f"{registry.host}/lib/box:1", listener=events.append)
        downloads = [e.current for e in events if e.status == "downloading"]
        assert downloads[0] >= len(blob) // 2 and downloads[-1] == len(blob)

        # Everything is in the store now: a second pull fetches no blob.
        again: list[TransferEvent] = []
        pull_image(store, registries, f"{registry.host}/lib/box:1", listener=again.append)
        assert [e.status for e in again if e.blob == layer["digest"]] == ["waiting", "exists"]

        # An OCI index: the entry for the wanted platform is chosen.
        with registries.client(registry.host) as client:
            body = source.blob_path(original.manifest_digest).read_bytes()
            entry = {"mediaType": manifest["mediaType"], "digest": original.manifest_digest, "size": len(body)}
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
                {**entry, "platform": {"os": "linux", "architecture": "s390x"}},
                {**entry, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            ]}
            client.put_manifest("lib/box", "multi", json.dumps(index).encode(), OCI_INDEX)
        multi = pull_image(ImageStore(tmp_path / "multi"), registries, f"{registry.host}/lib/box:multi",
                           platform=parse_platform("linux/arm64"))
        assert multi.id == original.id
        with pytest.raises(PlatformNotFound, match="single-platform image for linux/"):
            pull_image(ImageStore(tmp_path / "single"), registries, f"{registry.host}/lib/box:1",
                       platform=parse_platform("linux/s390x"))
        with pytest.raises(PlatformNotFound, match="no manifest for platform linux/riscv64"):
            pull_image(ImageStore(tmp_path / "multi2"), registries, f"{registry.host}/lib/box:multi",
                       platform=parse_platform("linux/riscv64"))
