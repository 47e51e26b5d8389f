"""Typed failures of registry operations; the CLI renders them once."""

from runtime.image.errors import ImageError


class RegistryError(ImageError):
    """The registry refused a request or answered something pyorch cannot use."""


class RegistryUnreachable(RegistryError):
    """No connection to the registry (DNS, refused, TLS, timeout)."""


class AuthenticationFailed(RegistryError):
    """Credentials were refused, or the registry wants credentials pyorch does not have."""


class ManifestUnknown(RegistryError):
    """The registry has no such repository, tag or digest."""


class UnsupportedManifest(RegistryError):
    """A manifest of a media type or shape pyorch does not handle (schema 1, artifacts...)."""


class PlatformNotFound(RegistryError):
    """A manifest list or index has no entry for the wanted platform."""


class DigestMismatch(RegistryError):
    """Content does not hash to the digest that names it; it is thrown away."""


class InsecureRegistry(RegistryError):
    """Plain HTTP was needed for a registry that is neither local nor listed as insecure."""
