"""A real registry (Debian's docker-registry) on 127.0.0.1, plain, with htpasswd, or with token auth.

The token variant runs a tiny token server in this process: it checks Basic credentials and signs
RS256 JWTs with a throw-away key whose self-signed certificate is the registry's root bundle (the
certificate travels in the token's ``x5c`` header, as distribution verifies it).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx

from tests.helpers import free_port

REGISTRY_BIN = "/usr/bin/docker-registry"
USER, PASSWORD = "tester", "s3cret-pass"


@dataclass
class RunningRegistry:
    host: str                     # "127.0.0.1:PORT": the registry part of references
    storage: Path
    token_requests: list[str] = field(default_factory=list)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _TokenIssuer:
    def __init__(self, workdir: Path, service: str, issuer: str) -> None:
        self.key, self.cert = workdir / "token.key", workdir / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-days", "1", "-subj", "/CN=pyorch-test-token"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.service, self.issuer = service, issuer

    def token(self, subject: str, access: list[dict[str, object]]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": secrets.token_hex(8), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), check=True, capture_output=True).stdout
        return f"{signing_input}.{_b64url(signature)}"


@contextmanager
def _token_server(issuer: _TokenIssuer, log: list[str]) -> Iterator[str]:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            authorised = self.headers.get("Authorization") == expected
            if self.headers.get("Authorization") and not authorised:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            access = []
            for scope in query.get("scope", []):
                kind, name, actions = scope.split(":")
                access.append({"type": kind, "name": name, "actions": actions.split(",") if authorised else []})
            log.append(f"{'user' if authorised else 'anonymous'} {','.join(query.get('scope', []))}")
            body = json.dumps({"token": issuer.token(USER if authorised else "", access)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def run_registry(workdir: Path, auth: str = "none") -> Iterator[RunningRegistry]:
    """Start docker-registry with ``auth`` none, htpasswd or token; always stopped and removed afterwards."""
    if not os.path.exists(REGISTRY_BIN):
        raise RuntimeError(f"{REGISTRY_BIN} is missing: apt-get install docker-registry (scripts/setup.sh)")
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir()
    port = free_port()
    token_log: list[str] = []
    with contextlib.ExitStack() as stack:
        auth_section = ""
        if auth == "htpasswd":
            htpasswd = workdir / "htpasswd"
            line = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True,
                                  text=True).stdout.strip()
            htpasswd.write_text(line + "\n")
            auth_section = f"auth:\n  htpasswd:\n    realm: pyorch-test\n    path: {htpasswd}\n"
        elif auth == "token":
            issuer = _TokenIssuer(workdir, "pyorch-test-registry", "pyorch-test-issuer")
            realm = stack.enter_context(_token_server(issuer, token_log))
            auth_section = (f"auth:\n  token:\n    realm: {realm}\n    service: pyorch-test-registry\n"
                            f"    issuer: pyorch-test-issuer\n    rootcertbundle: {issuer.cert}\n")
        config = workdir / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n  secret: {secrets.token_hex(16)}\n" + auth_section)
        log = open(workdir / "registry.log", "wb")
        proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, env={"PATH": os.environ.get("PATH", "")})
        log.close()
        try:
            _wait_ready(f"http://127.0.0.1:{port}/v2/", proc, workdir / "registry.log")
            yield RunningRegistry(f"127.0.0.1:{port}", storage, token_log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(storage, ignore_errors=True)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code in (200, 401):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not answer on {url}: {log.read_text()[-2000:]}")
