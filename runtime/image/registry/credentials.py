"""Registry credentials in Docker's ``config.json`` format.

pyorch writes what `pyorch login` is given to ``$PYORCH_ROOT/auth.json`` (mode 0600, the
``{"auths": {host: {"auth": base64("user:password")}}}`` shape Docker uses) and reads, in order,
that file and then the user's Docker config (``$DOCKER_CONFIG/config.json``, else
``~/.docker/config.json``), so a machine already logged in with Docker needs nothing more.
Docker Hub is keyed ``https://index.docker.io/v1/`` as Docker keys it; other registries by host.
Credential helpers (``credsStore``) are not run: pyorch executes nothing a config file names.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.image.registry.errors import RegistryError

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_NAMES = {"docker.io", "index.docker.io", "registry-1.docker.io", DOCKER_HUB_KEY,
              "https://index.docker.io/v1", "https://registry-1.docker.io"}


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


def config_key(registry: str) -> str:
    """The key a registry host has in ``auths`` (Docker Hub's historical URL, else the host)."""
    return DOCKER_HUB_KEY if registry in _HUB_NAMES else registry


def _host_of(key: str) -> str:
    """Keys may be URLs (``https://host/v1/``) in files other tools wrote."""
    if key in _HUB_NAMES:
        return "docker.io"
    host = key.split("://", 1)[-1]
    return host.split("/", 1)[0]


def docker_config_path(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "config.json"
    return Path(env.get("HOME", str(Path.home()))) / ".docker" / "config.json"


class CredentialStore:
    """pyorch's own auth file (read and written) in front of Docker's config (read only)."""

    def __init__(self, own_file: Path, fallbacks: list[Path] | None = None) -> None:
        self.own_file = own_file
        self.fallbacks = [docker_config_path()] if fallbacks is None else fallbacks

    def lookup(self, registry: str) -> Credentials | None:
        want = "docker.io" if registry in _HUB_NAMES else registry
        for path in (self.own_file, *self.fallbacks):
            auths = _read(path).get("auths") or {}
            if not isinstance(auths, dict):
                continue
            for key, entry in auths.items():
                if _host_of(str(key)) == want and isinstance(entry, dict):
                    found = _decode(entry, path, str(key))
                    if found is not None:
                        return found
        return None

    def save(self, registry: str, credentials: Credentials) -> None:
        data = _read(self.own_file)
        auths = data.setdefault("auths", {})
        auths[config_key(registry)] = {"auth": base64.b64encode(
            f"{credentials.username}:{credentials.password}".encode()).decode()}
        _write(self.own_file, data)

    def remove(self, registry: str) -> bool:
        data = _read(self.own_file)
        auths = data.get("auths") or {}
        key = next((k for k in auths if _host_of(str(k)) == ("docker.io" if registry in _HUB_NAMES else registry)),
                   None)
        if key is None:
            return False
        del auths[key]
        _write(self.own_file, data)
        return True


def _decode(entry: dict[str, Any], path: Path, key: str) -> Credentials | None:
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]))
    auth = entry.get("auth")
    if not auth:
        return None
    try:
        user, _, password = base64.b64decode(str(auth), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise RegistryError(f"{path}: the 'auth' of {key!r} is not base64 of user:password") from None
    if not user:
        raise RegistryError(f"{path}: the 'auth' of {key!r} has no user name")
    return Credentials(user, password)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RegistryError(f"credentials file {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise RegistryError(f"credentials file {path} is not a JSON object")
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".auth-")
    try:
        os.fchmod(fd, 0o600)  # passwords: owner only, before a byte is written
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
