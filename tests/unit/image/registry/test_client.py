"""The HTTP side against fake registries (httpx.MockTransport): auth flows, verification, resumption."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import pytest

from runtime.image.registry.client import RegistryClient
from runtime.image.registry.credentials import Credentials
from runtime.image.registry.endpoint import endpoint_for
from runtime.image.registry.errors import (
    AuthenticationFailed,
    DigestMismatch,
    InsecureRegistry,
    ManifestUnknown,
    RegistryUnreachable,
)

BLOB = bytes(range(256)) * 400
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


class FakeRegistry:
    """Serves one blob; optionally demands a bearer token or Basic auth, honours Range or not."""

    def __init__(self, auth: str = "none", ranges: bool = True, blob: bytes = BLOB, break_after: int = 0) -> None:
        self.auth, self.ranges, self.blob, self.break_after = auth, ranges, blob, break_after
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "auth.example":
            if request.headers.get("Authorization") != Credentials("u", "p").basic():
                return httpx.Response(401)
            scope = request.url.params.get("scope", "")
            return httpx.Response(200, json={"token": f"tok-{scope}"})
        if request.url.scheme == "https" and request.url.host == "plain.example":
            raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number")
        wanted = {"bearer": "Bearer tok-repository:lib/x:pull", "basic": Credentials("u", "p").basic()}.get(self.auth)
        if wanted and request.headers.get("Authorization") != wanted:
            challenge = ('Bearer realm="https://auth.example/token",service="reg"' if self.auth == "bearer"
                         else 'Basic realm="reg"')
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if request.url.path == f"/v2/lib/x/blobs/{DIGEST}":
            start = 0
            if self.ranges and "Range" in request.headers:
                start = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
            body = self.blob[start:]
            if self.break_after:
                body, self.break_after = body[: self.break_after], 0
            return httpx.Response(206 if start else 200, content=body)
        return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]})


def _client(fake: FakeRegistry, registry: str = "reg.example", creds: Credentials | None = None) -> RegistryClient:
    return RegistryClient(endpoint_for(registry), creds, transport=httpx.MockTransport(fake))


def test_bearer_token_flow_with_credentials(tmp_path: Path) -> None:
    fake = FakeRegistry("bearer")
    with _client(fake, creds=Credentials("u", "p")) as client:
        assert client.get_blob_bytes("lib/x", DIGEST) == BLOB
        assert client.get_blob_bytes("lib/x", DIGEST) == BLOB  # the token is cached per scope
    token_calls = [r for r in fake.requests if r.url.host == "auth.example"]
    assert len(token_calls) == 1
    assert token_calls[0].url.params["service"] == "reg"
    assert token_calls[0].url.params["scope"] == "repository:lib/x:pull"


def test_bearer_refused_and_basic_without_credentials() -> None:
    with _client(FakeRegistry("bearer")) as client, pytest.raises(AuthenticationFailed, match="anonymously"):
        client.get_blob_bytes("lib/x", DIGEST)
    with _client(FakeRegistry("basic")) as client, pytest.raises(AuthenticationFailed, match="pyorch login"):
        client.get_blob_bytes("lib/x", DIGEST)
    with _client(FakeRegistry("basic"), creds=Credentials("u", "p")) as client:
        assert client.get_blob_bytes("lib/x", DIGEST) == BLOB
    fake = FakeRegistry("basic")
    with _client(fake, creds=Credentials("u", "wrong")) as client, pytest.raises(AuthenticationFailed):
        client.get_blob_bytes("lib/x", DIGEST)
    assert base64.b64decode(fake.requests[-1].headers["Authorization"].split()[1]) == b"u:wrong"


def test_digest_mismatch_and_oversize_are_refused(tmp_path: Path) -> None:
    bad = FakeRegistry(blob=BLOB[:-1] + b"!")
    with _client(bad) as client:
        with pytest.raises(DigestMismatch, match="hashes to"):
            client.get_blob_bytes("lib/x", DIGEST)
        partial = tmp_path / "partial"
        with pytest.raises(DigestMismatch):
            client.download_blob("lib/x", DIGEST, len(BLOB), partial)
        assert not partial.exists()
    with _client(FakeRegistry(blob=BLOB + b"extra")) as client:
        with pytest.raises(DigestMismatch, match="longer than"):
            client.download_blob("lib/x", DIGEST, len(BLOB), tmp_path / "p2")
        assert not (tmp_path / "p2").exists()
    with _client(FakeRegistry()) as client, pytest.raises(ManifestUnknown, match="BLOB_UNKNOWN"):
        client.get_blob_bytes("lib/other", DIGEST)


@pytest.mark.parametrize("ranges", [True, False])
def test_partial_downloads_resume_or_restart(tmp_path: Path, ranges: bool) -> None:
    fake = FakeRegistry(ranges=ranges)
    partial = tmp_path / "partial"
    partial.write_bytes(BLOB[:1000])
    seen: list[int] = []
    with _client(fake) as client:
        client.download_blob("lib/x", DIGEST, len(BLOB), partial, seen.append)
    assert partial.read_bytes() == BLOB
    assert fake.requests[-1].headers["Range"] == "bytes=1000-"
    assert fake.requests[-1].headers["Accept-Encoding"] == "identity"
    # With Range honoured only the rest travels; otherwise the whole blob is fetched again.
    assert sum(seen) == len(BLOB)
    assert seen[0] == (1000 if ranges else min(len(BLOB), 1 << 20))


def test_a_broken_connection_is_resumed(tmp_path: Path) -> None:
    fake = FakeRegistry(break_after=5000)
    partial = tmp_path / "partial"
    with _client(fake) as client:
        client.download_blob("lib/x", DIGEST, len(BLOB), partial)
    assert partial.read_bytes() == BLOB
    blob_gets = [r for r in fake.requests if r.url.path.endswith(DIGEST)]
    assert [r.headers.get("Range") for r in blob_gets] == [None, "bytes=5000-"]


def test_plain_http_fallback_only_where_allowed() -> None:
    fake = FakeRegistry()
    with _client(fake, registry="plain.example") as client, pytest.raises(InsecureRegistry, match="HTTPS"):
        client.base_url()
    allowed = RegistryClient(endpoint_for("plain.example", {"plain.example"}), transport=httpx.MockTransport(fake))
    with allowed:
        assert allowed.base_url() == "http://plain.example"

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with RegistryClient(endpoint_for("localhost:1"), transport=httpx.MockTransport(refuse)) as client, \
            pytest.raises(RegistryUnreachable, match="localhost:1"):
        client.base_url()
