"""An OCI Distribution v2 client: pull into and push from the image store, with auth and progress.

`push_image` (with the layer compressors and zstandard) is imported when first asked for: the
engine holds it in memory only once something is pushed (docs/engine.md, "Fleets of hundreds").
"""

from typing import TYPE_CHECKING, Any

from runtime.image.registry.credentials import Credentials, CredentialStore
from runtime.image.registry.errors import (
    AuthenticationFailed,
    DigestMismatch,
    InsecureRegistry,
    ManifestUnknown,
    PlatformNotFound,
    RegistryError,
    RegistryUnreachable,
    UnsupportedManifest,
)
from runtime.image.registry.events import Listener, TransferEvent
from runtime.image.registry.platform import InvalidPlatform, Platform, host_platform, parse_platform
from runtime.image.registry.pull import last_pulls, pull_image
from runtime.image.registry.session import Registries

if TYPE_CHECKING:
    from runtime.image.registry.push import push_image


def __getattr__(name: str) -> Any:
    if name == "push_image":
        from runtime.image.registry import push

        return push.push_image
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AuthenticationFailed", "CredentialStore", "Credentials", "DigestMismatch", "InsecureRegistry",
    "InvalidPlatform", "Listener", "ManifestUnknown", "Platform", "PlatformNotFound", "Registries",
    "RegistryError", "RegistryUnreachable", "TransferEvent", "UnsupportedManifest", "host_platform",
    "last_pulls", "parse_platform", "pull_image", "push_image",
]
