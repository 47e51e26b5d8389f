"""An OCI Distribution v2 client for one registry: manifests, blobs (ranged, verified), uploads.

One `httpx.Client` per registry keeps connections alive across the many requests of a pull (a
manifest, a config, N layers) and is safe to share between the download threads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from runtime.image.registry.auth import Authenticator
from runtime.image.registry.challenge import Challenge, parse_challenges
from runtime.image.registry.credentials import Credentials
from runtime.image.registry.endpoint import Endpoint
from runtime.image.registry.errors import (
    AuthenticationFailed,
    DigestMismatch,
    InsecureRegistry,
    ManifestUnknown,
    RegistryError,
    RegistryUnreachable,
)
from runtime.image.registry.media import ACCEPT

if TYPE_CHECKING:
    import httpx  # only the calls that talk to a registry import it: ~2.4 MiB of an engine that never pulls

Progress = Callable[[int], None]          # called with the number of new bytes
MAX_MANIFEST_BYTES = 4 << 20              # distribution's own limit
_CHUNK = 1 << 20
_ATTEMPTS = 3


class RegistryClient:
    def __init__(self, endpoint: Endpoint, credentials: Credentials | None = None,
                 timeout: float = 60.0, user_agent: str = "pyorch/0.1",
                 transport: httpx.BaseTransport | None = None) -> None:
        import httpx
        self.endpoint = endpoint
        self.registry = endpoint.registry
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=True,
                                  headers={"User-Agent": user_agent},
                                  limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
                                  transport=transport)
        self._auth = Authenticator(self._http, self.registry, credentials)
        self._base: str | None = None
        self._challenges: list[Challenge] = []   # from the ping; answered before each new scope

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------------------
    def base_url(self) -> str:
        """Ping ``/v2/`` (HTTPS, then HTTP where allowed) once; it also yields the first challenge."""
        import httpx
        if self._base is not None:
            return self._base
        failures = []
        for base in self.endpoint.urls():
            try:
                response = self._http.get(f"{base}/v2/")
            except httpx.HTTPError as exc:
                failures.append(f"{base}: {exc}")
                continue
            if response.status_code == 401:
                self._challenges = parse_challenges(response.headers.get("WWW-Authenticate", ""))
            elif response.status_code != 200:
                raise RegistryError(f"{base}/v2/ answered HTTP {response.status_code}: not a v2 registry")
            self._base = base
            return base
        hint = "" if self.endpoint.insecure_allowed else (
            " (plain HTTP is only used for loopback registries or those in PYORCH_INSECURE_REGISTRIES)")
        if not self.endpoint.insecure_allowed and any("SSL" in f or "ssl" in f for f in failures):
            raise InsecureRegistry(f"cannot reach registry {self.registry} over HTTPS: {'; '.join(failures)}{hint}")
        raise RegistryUnreachable(f"cannot reach registry {self.registry}: {'; '.join(failures)}{hint}")

    def ping(self, scope: str = "") -> None:
        """Check that the registry accepts our credentials (`pyorch login`)."""
        base = self.base_url()
        response = self._send("GET", f"{base}/v2/", scope)
        response.close()
        if response.status_code != 200:
            raise AuthenticationFailed(f"registry {self.registry} answered HTTP {response.status_code} to /v2/")

    def _send(self, method: str, url: str, scope: str, headers: dict[str, str] | None = None,
              content: bytes | IO[bytes] | Iterator[bytes] | None = None, stream: bool = False) -> httpx.Response:
        """One request with authentication: a 401 is answered once, then the request is repeated.

        Callers send bodies only after a body-less request on the same scope was authorised (an
        upload starts with a POST), so the repeat never needs to rewind a body.
        """
        import httpx
        if self._challenges and self._auth.header(scope) is None:
            self._auth.answer(self._challenges, scope)  # saves the 401 round trip of every new scope
        for attempt in (0, 1):
            h = dict(headers or {})
            auth = self._auth.header(scope)
            if auth:
                h["Authorization"] = auth
            request = self._http.build_request(method, url, headers=h, content=content)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.HTTPError as exc:
                raise RegistryUnreachable(f"{method} {url}: {exc}") from exc
            if response.status_code != 401 or attempt:
                if response.status_code == 401:
                    response.close()
                    raise AuthenticationFailed(f"registry {self.registry} refused {method} {_path(url)} "
                                               f"even with credentials")
                return response
            response.close()
            self._auth.answer(parse_challenges(response.headers.get("WWW-Authenticate", "")), scope)
        raise AssertionError("unreachable")

    # --- manifests ------------------------------------------------------------------------------------
    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """``(body, media type, digest)``; a pinned digest must match the body's hash."""
        url = f"{self.base_url()}/v2/{repository}/manifests/{reference}"
        response = self._send("GET", url, _scope(repository, "pull"), {"Accept": ACCEPT}, stream=True)
        try:
            _check(response, f"manifest {repository}:{reference}")
            body = _read_limited(response, MAX_MANIFEST_BYTES, f"manifest {repository}:{reference}")
        finally:
            response.close()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        expected = reference if reference.startswith("sha256:") else response.headers.get("Docker-Content-Digest", "")
        if expected.startswith("sha256:") and expected != digest:
            raise DigestMismatch(f"manifest {repository}@{expected} hashes to {digest}")
        return body, response.headers.get("Content-Type", "").split(";")[0].strip(), digest

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        url = f"{self.base_url()}/v2/{repository}/manifests/{reference}"
        response = self._send("PUT", url, _scope(repository, "pull,push"), {"Content-Type": media_type}, body)
        _check(response, f"manifest upload {repository}:{reference}", expect=(201, 200))
        return response.headers.get("Docker-Content-Digest", "") or "sha256:" + hashlib.sha256(body).hexdigest()

    # --- blobs ------------------------------------------------------------------------------------------
    def get_blob_bytes(self, repository: str, digest: str, limit: int = 64 << 20) -> bytes:
        """A small blob (an image config) in memory, verified."""
        url = f"{self.base_url()}/v2/{repository}/blobs/{digest}"
        response = self._send("GET", url, _scope(repository, "pull"), {"Accept-Encoding": "identity"}, stream=True)
        try:
            _check(response, f"blob {digest} of {repository}")
            body = _read_limited(response, limit, f"blob {digest}")
        finally:
            response.close()
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        if actual != digest:
            raise DigestMismatch(f"blob {digest} of {repository} hashes to {actual}")
        return body

    def download_blob(self, repository: str, digest: str, size: int, partial: Path,
                      progress: Progress | None = None) -> Path:
        """Fetch a blob into ``partial`` (resuming what is there with a Range request) and verify it.

        A connection that breaks mid-blob is resumed up to three times. The file is left in place
        on a network failure, so that the next pull resumes it; it is deleted when it turns out to
        be longer than ``size`` or to hash to something else.
        """
        last_error: Exception | None = None
        for _ in range(_ATTEMPTS):
            try:
                self._download_once(repository, digest, size, partial, progress)
                break
            except RegistryUnreachable as exc:
                last_error = exc
        else:
            raise last_error or RegistryUnreachable(f"blob {digest}: download failed")
        hasher = hashlib.sha256()
        with open(partial, "rb") as f:
            while chunk := f.read(_CHUNK):
                hasher.update(chunk)
        actual = "sha256:" + hasher.hexdigest()
        if actual != digest:
            partial.unlink(missing_ok=True)
            raise DigestMismatch(f"blob {digest} of {self.registry}/{repository} hashes to {actual}; discarded")
        return partial

    def _download_once(self, repository: str, digest: str, size: int, partial: Path,
                       progress: Progress | None) -> None:
        import httpx
        have = partial.stat().st_size if partial.exists() else 0
        if have > size:
            partial.unlink()
            have = 0
        if have == size and size > 0:
            return
        # identity: the bytes hashed (and the offsets of a Range) must be the blob's, never a re-encoding
        headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
        url = f"{self.base_url()}/v2/{repository}/blobs/{digest}"
        response = self._send("GET", url, _scope(repository, "pull"), headers, stream=True)
        try:
            if have and response.status_code == 206:
                mode = "ab"
                if progress:
                    progress(have)
            else:
                _check(response, f"blob {digest} of {repository}")
                mode, have = "wb", 0
            written = have
            with open(partial, mode) as out:
                try:
                    for chunk in response.iter_bytes(_CHUNK):
                        written += len(chunk)
                        if written > size:
                            raise DigestMismatch(f"blob {digest} is longer than the {size} bytes the manifest says")
                        out.write(chunk)
                        if progress:
                            progress(len(chunk))
                except httpx.HTTPError as exc:
                    raise RegistryUnreachable(f"blob {digest}: connection broke after {written} bytes: {exc}") from exc
        except DigestMismatch:
            partial.unlink(missing_ok=True)
            raise
        finally:
            response.close()
        if written < size:
            raise RegistryUnreachable(f"blob {digest}: the registry sent {written} of {size} bytes")

    def blob_exists(self, repository: str, digest: str) -> bool:
        url = f"{self.base_url()}/v2/{repository}/blobs/{digest}"
        response = self._send("HEAD", url, _scope(repository, "pull,push"))
        response.close()
        if response.status_code == 404:
            return False
        _check(response, f"blob {digest} of {repository}")
        return True

    def upload_blob(self, repository: str, digest: str, path: Path, chunk_size: int | None = None,
                    progress: Progress | None = None) -> None:
        """Upload a stored blob: one PUT (monolithic), or PATCH chunks then a closing PUT."""
        import httpx
        scope = _scope(repository, "pull,push")
        start = self._send("POST", f"{self.base_url()}/v2/{repository}/blobs/uploads/", scope)
        start.close()
        _check(start, f"upload start for {repository}", expect=(202,))
        location = self._location(start)
        size = path.stat().st_size
        with open(path, "rb") as f:
            if chunk_size is None:
                response = self._send("PUT", str(httpx.URL(location).copy_merge_params({"digest": digest})), scope,
                                      {"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                                      _read_all(f, progress))
                _check(response, f"upload of {digest}", expect=(201,))
                return
            offset = 0
            while offset < size:
                chunk = f.read(chunk_size)
                end = offset + len(chunk) - 1
                response = self._send("PATCH", location, scope, {
                    "Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{end}",
                    "Content-Length": str(len(chunk))}, chunk)
                _check(response, f"chunk {offset}-{end} of {digest}", expect=(202,))
                location = self._location(response)
                offset += len(chunk)
                if progress:
                    progress(len(chunk))
        response = self._send("PUT", str(httpx.URL(location).copy_merge_params({"digest": digest})), scope,
                              {"Content-Length": "0"}, b"")
        _check(response, f"upload of {digest}", expect=(201,))

    def _location(self, response: httpx.Response) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.registry} started an upload without a Location")
        return str(response.request.url.join(location))


def _read_all(f: IO[bytes], progress: Progress | None) -> Iterator[bytes]:
    while chunk := f.read(_CHUNK):
        if progress:
            progress(len(chunk))
        yield chunk


def _scope(repository: str, actions: str) -> str:
    return f"repository:{repository}:{actions}"


def _path(url: str) -> str:
    import httpx
    return httpx.URL(url).path


def _read_limited(response: httpx.Response, limit: int, what: str) -> bytes:
    parts: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > limit:
            raise RegistryError(f"{what} is larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _check(response: httpx.Response, what: str, expect: tuple[int, ...] = (200,)) -> None:
    import httpx
    if response.status_code in expect:
        return
    detail = ""
    try:
        if not response.is_stream_consumed:
            response.read()
        errors = response.json().get("errors") or []
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError, httpx.HTTPError):
        pass
    if response.status_code == 404:
        raise ManifestUnknown(f"{what}: not found{f' ({detail})' if detail else ''}")
    if response.status_code == 403:
        raise AuthenticationFailed(f"{what}: access denied{f' ({detail})' if detail else ''}")
    raise RegistryError(f"{what}: HTTP {response.status_code}{f' ({detail})' if detail else ''}")


def file_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()



