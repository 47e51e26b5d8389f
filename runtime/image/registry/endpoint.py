"""Which URL a registry host has, and whether plain HTTP may be used for it (pure but for the env).

Docker's rules: ``docker.io`` is served by ``registry-1.docker.io``; HTTPS always, except for
loopback registries (``localhost``, ``127.0.0.0/8``, ``::1``) and those the user lists as insecure
(``PYORCH_INSECURE_REGISTRIES=host:port,...`` or ``insecure_registries`` in
``$PYORCH_ROOT/registries.json``): those are tried over HTTPS first and fall back to HTTP.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from runtime.image.registry.errors import RegistryError

DOCKER_HUB_API = "registry-1.docker.io"


@dataclass(frozen=True)
class Endpoint:
    registry: str        # as in the reference: "docker.io", "localhost:5000"
    host: str            # what to connect to: "registry-1.docker.io", "localhost:5000"
    insecure_allowed: bool

    def urls(self) -> list[str]:
        """Base URLs to try, in order."""
        secure = f"https://{self.host}"
        return [secure, f"http://{self.host}"] if self.insecure_allowed else [secure]


def _hostname(registry: str) -> str:
    if registry.startswith("["):
        return registry[1:registry.index("]")]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def is_loopback(registry: str) -> bool:
    host = _hostname(registry)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_for(registry: str, insecure: Iterable[str] = ()) -> Endpoint:
    host = DOCKER_HUB_API if registry == "docker.io" else registry
    allowed = is_loopback(registry) or registry in set(insecure)
    return Endpoint(registry, host, allowed)


def insecure_registries(state_root: Path | None, environ: dict[str, str] | None = None) -> frozenset[str]:
    """Hosts the user allows over plain HTTP: the environment plus ``registries.json``."""
    env = os.environ if environ is None else environ
    hosts = {h.strip() for h in env.get("PYORCH_INSECURE_REGISTRIES", "").split(",") if h.strip()}
    if state_root is not None:
        path = state_root / "registries.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{path} is unreadable: {exc}") from exc
        listed = data.get("insecure_registries", []) if isinstance(data, dict) else None
        if not isinstance(listed, list) or not all(isinstance(h, str) for h in listed):
            raise RegistryError(f"{path}: insecure_registries must be a list of host[:port] strings")
        hosts |= set(listed)
    return frozenset(hosts)
