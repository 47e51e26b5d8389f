"""Pure parts of the registry client: challenges, manifests, platforms, endpoints, credentials."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from runtime.image.registry.challenge import Challenge, parse_challenges
from runtime.image.registry.credentials import DOCKER_HUB_KEY, Credentials, CredentialStore
from runtime.image.registry.endpoint import endpoint_for, insecure_registries
from runtime.image.registry.errors import PlatformNotFound, RegistryError, UnsupportedManifest
from runtime.image.registry.media import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    ImageIndex,
    ImageManifest,
    layer_media_type,
    parse_manifest,
)
from runtime.image.registry.platform import InvalidPlatform, Platform, parse_platform, select_manifest

D1, D2, D3 = ("sha256:" + c * 64 for c in "abc")


def test_bearer_challenge_of_docker_hub() -> None:
    header = ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
              'scope="repository:library/busybox:pull"')
    assert parse_challenges(header) == [Challenge("bearer", {
        "realm": "https://auth.docker.io/token", "service": "registry.docker.io",
        "scope": "repository:library/busybox:pull"})]


def test_several_challenges_escapes_and_bare_tokens() -> None:
    got = parse_challenges('Basic realm="a \\"quoted\\" realm", Bearer realm="https://t/x", error=insufficient_scope')
    assert got == [Challenge("basic", {"realm": 'a "quoted" realm'}),
                   Challenge("bearer", {"realm": "https://t/x", "error": "insufficient_scope"})]
    assert parse_challenges("") == []
    assert parse_challenges("Negotiate") == [Challenge("negotiate", {})]


def _manifest(media_type: str = DOCKER_MANIFEST, **extra: object) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": media_type,
           "config": {"mediaType": DOCKER_CONFIG, "digest": D1, "size": 10},
           "layers": [{"mediaType": DOCKER_LAYER_GZIP, "digest": D2, "size": 20}], **extra}
    return json.dumps(doc).encode()


def test_docker_and_oci_manifests_parse() -> None:
    parsed = parse_manifest(_manifest())
    assert isinstance(parsed, ImageManifest)
    assert (parsed.config.digest, [layer.digest for layer in parsed.layers]) == (D1, [D2])
    oci = json.loads(_manifest())
    del oci["mediaType"]  # OCI may leave it out: the content type or the shape tells
    assert isinstance(parse_manifest(json.dumps(oci).encode()), ImageManifest)
    index = {"schemaVersion": 2, "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": D3, "size": 5,
                                                "platform": {"os": "linux", "architecture": "amd64"}}]}
    parsed_index = parse_manifest(json.dumps(index).encode(), OCI_INDEX)
    assert isinstance(parsed_index, ImageIndex) and parsed_index.manifests[0].digest == D3


@pytest.mark.parametrize("body, message", [
    (b"{not json", "not JSON"),
    (json.dumps({"schemaVersion": 1, "name": "x"}).encode(), "schema 1"),
    (_manifest(layers=[{"mediaType": "text/plain", "digest": D2, "size": 1}]), "unsupported media type"),
    (_manifest(config={"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": D1, "size": 1}),
     "not an image config"),
    (_manifest(layers=[{"mediaType": DOCKER_LAYER_GZIP, "digest": "md5:abc", "size": 1}]), "want sha256"),
    (_manifest(layers=[{"mediaType": DOCKER_LAYER_GZIP, "digest": D2, "size": -1}]), "invalid size"),
    (_manifest(media_type="application/x-unknown"), "unsupported manifest media type"),
])
def test_bad_manifests_are_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(UnsupportedManifest, match=message):
        parse_manifest(body)


def _index(*platforms: dict[str, str]) -> ImageIndex:
    parsed = parse_manifest(json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": "sha256:" + f"{i:064x}", "size": 1, "platform": p}
        for i, p in enumerate(platforms)]}).encode())
    assert isinstance(parsed, ImageIndex)
    return parsed


def test_platform_selection() -> None:
    index = _index({"os": "unknown", "architecture": "unknown"},  # a buildx attestation
                   {"os": "linux", "architecture": "amd64"},
                   {"os": "linux", "architecture": "arm", "variant": "v6"},
                   {"os": "linux", "architecture": "arm", "variant": "v7"},
                   {"os": "linux", "architecture": "arm64"})
    pick = {p: int(select_manifest(index, parse_platform(p)).digest[-8:], 16)
            for p in ("linux/amd64", "linux/x86_64", "linux/arm/v7", "linux/arm", "linux/arm64/v8", "linux/aarch64")}
    assert pick == {"linux/amd64": 1, "linux/x86_64": 1, "linux/arm/v7": 3, "linux/arm": 2, "linux/arm64/v8": 4,
                    "linux/aarch64": 4}
    with pytest.raises(PlatformNotFound, match="linux/amd64, linux/arm/v6"):
        select_manifest(index, Platform("linux", "ppc64le"))
    for bad in ("", "linux//v7", "a/b/c/d"):
        with pytest.raises(InvalidPlatform):
            parse_platform(bad)


def test_layer_media_type_by_magic() -> None:
    assert layer_media_type(b"\x1f\x8b\x08").endswith("tar+gzip")
    assert layer_media_type(b"\x28\xb5\x2f\xfd").endswith("tar+zstd")
    assert layer_media_type(b"bin/\x00\x00").endswith("v1.tar")


def test_plain_http_only_for_loopback_and_listed_registries(tmp_path: Path) -> None:
    assert endpoint_for("docker.io").urls() == ["https://registry-1.docker.io"]
    for local in ("localhost:5000", "127.0.0.1:5000", "[::1]:5000", "127.1.2.3"):
        assert endpoint_for(local).urls()[-1].startswith("http://"), local
    assert endpoint_for("registry.example.com").urls() == ["https://registry.example.com"]
    assert endpoint_for("registry.example.com", {"registry.example.com"}).insecure_allowed
    (tmp_path / "registries.json").write_text('{"insecure_registries": ["10.1.2.3:5000"]}')
    assert insecure_registries(tmp_path, {"PYORCH_INSECURE_REGISTRIES": "a:1, b"}) == {"a:1", "b", "10.1.2.3:5000"}
    (tmp_path / "registries.json").write_text('{"insecure_registries": "oops"}')
    with pytest.raises(RegistryError, match="must be a list"):
        insecure_registries(tmp_path, {})


def test_credentials_saved_like_docker_and_read_from_docker_config(tmp_path: Path) -> None:
    docker = tmp_path / "docker.json"
    docker.write_text(json.dumps({"auths": {
        DOCKER_HUB_KEY: {"auth": base64.b64encode(b"hubuser:hubpass").decode()},
        "https://ghcr.io": {"username": "gh", "password": "tok"},
        "broken.example": {"auth": "!!notbase64"}}}))
    store = CredentialStore(tmp_path / "own" / "auth.json", [docker])
    assert store.lookup("docker.io") == Credentials("hubuser", "hubpass")
    assert store.lookup("ghcr.io") == Credentials("gh", "tok")
    assert store.lookup("quay.io") is None
    with pytest.raises(RegistryError, match="not base64"):
        store.lookup("broken.example")

    store.save("docker.io", Credentials("mine", "pw:with:colons"))
    assert store.lookup("docker.io") == Credentials("mine", "pw:with:colons")  # own file first
    saved = json.loads((tmp_path / "own" / "auth.json").read_text())
    assert list(saved["auths"]) == [DOCKER_HUB_KEY]
    assert (tmp_path / "own" / "auth.json").stat().st_mode & 0o077 == 0
    assert store.remove("docker.io") and not store.remove("docker.io")
    assert store.lookup("docker.io") == Credentials("hubuser", "hubpass")
